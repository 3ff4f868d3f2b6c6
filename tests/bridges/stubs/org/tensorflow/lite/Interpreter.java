package org.tensorflow.lite;

import java.io.File;
import java.util.Map;

/** Stub: signatures of org.tensorflow.lite.Interpreter used by LiteRtEngine; bodies throw. */
public final class Interpreter implements AutoCloseable {
  public Interpreter(File modelFile) { throw new UnsupportedOperationException("stub"); }
  public void runSignature(Map<String, Object> inputs, Map<String, Object> outputs, String signatureKey) { throw new UnsupportedOperationException("stub"); }
  public String[] getSignatureKeys() { throw new UnsupportedOperationException("stub"); }
  public Tensor getInputTensorFromSignature(String inputName, String signatureKey) { throw new UnsupportedOperationException("stub"); }
  public Tensor getOutputTensorFromSignature(String outputName, String signatureKey) { throw new UnsupportedOperationException("stub"); }
  @Override public void close() { throw new UnsupportedOperationException("stub"); }
}
