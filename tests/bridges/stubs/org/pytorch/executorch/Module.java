package org.pytorch.executorch;

/** Stub: signatures of org.pytorch.executorch.Module used by ExecuTorchEngine; bodies throw. */
public class Module {
  public static Module load(final String modelPath) { throw new UnsupportedOperationException("stub"); }
  public EValue[] forward(EValue... inputs) { throw new UnsupportedOperationException("stub"); }
  public void destroy() { throw new UnsupportedOperationException("stub"); }
}
