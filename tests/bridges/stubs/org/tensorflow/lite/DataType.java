package org.tensorflow.lite;

/** Stub of the published enum (LiteRT's org.tensorflow.lite.DataType). */
public enum DataType { FLOAT32, INT32, UINT8, INT64, STRING, BOOL, INT16, INT8 }
