package org.fmsmo.api.quant;

import org.fmsmo.api.Stable;
import org.fmsmo.api.plugin.NamedProvider;

/** Creates a {@link QuantMethod}; the {@link #name()} is what users pass to {@code --method}. */
@Stable(since = "1.0")
public interface QuantMethodProvider extends NamedProvider {

    /** A new method instance, ready for one run; cheap. */
    QuantMethod create();
}
