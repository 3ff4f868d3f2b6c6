package org.tensorflow.lite;

/** Stub: signatures of org.tensorflow.lite.Tensor used by LiteRtEngine. */
public interface Tensor {
  DataType dataType();
  int numBytes();
  int[] shape();
}
