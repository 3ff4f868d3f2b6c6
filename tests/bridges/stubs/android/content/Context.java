package android.content;

import android.content.res.AssetManager;
import java.io.File;

/** Stub: the two methods of android.content.Context that AndroidAssets uses. */
public abstract class Context {
  public abstract AssetManager getAssets();
  public abstract File getFilesDir();
}
