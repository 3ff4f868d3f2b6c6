package android.content.res;

import java.io.IOException;
import java.io.InputStream;

/** Stub: the method of android.content.res.AssetManager that AndroidAssets uses. */
public final class AssetManager {
  public InputStream open(String fileName) throws IOException { throw new UnsupportedOperationException("stub"); }
}
