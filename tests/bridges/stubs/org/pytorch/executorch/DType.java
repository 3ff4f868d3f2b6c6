package org.pytorch.executorch;

/** Stub of the published enum (executorch-android): the dtypes the adapter handles, plus one it rejects. */
public enum DType { UINT8, INT8, INT16, INT32, INT64, HALF, FLOAT, DOUBLE, BOOL }
