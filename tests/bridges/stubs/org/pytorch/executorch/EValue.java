package org.pytorch.executorch;

/** Stub: signatures of org.pytorch.executorch.EValue used by ExecuTorchEngine; bodies throw. */
public class EValue {
  public static EValue from(Tensor tensor) { throw new UnsupportedOperationException("stub"); }
  public Tensor toTensor() { throw new UnsupportedOperationException("stub"); }
}
