package org.pytorch.executorch;

/** Stub: signatures of org.pytorch.executorch.Tensor used by ExecuTorchEngine; bodies throw. */
public abstract class Tensor {
  public static Tensor fromBlob(float[] data, long[] shape) { throw new UnsupportedOperationException("stub"); }
  public static Tensor fromBlob(int[] data, long[] shape) { throw new UnsupportedOperationException("stub"); }
  public static Tensor fromBlob(long[] data, long[] shape) { throw new UnsupportedOperationException("stub"); }
  public long[] shape() { throw new UnsupportedOperationException("stub"); }
  public abstract DType dtype();
  public float[] getDataAsFloatArray() { throw new UnsupportedOperationException("stub"); }
  public int[] getDataAsIntArray() { throw new UnsupportedOperationException("stub"); }
  public long[] getDataAsLongArray() { throw new UnsupportedOperationException("stub"); }
}
