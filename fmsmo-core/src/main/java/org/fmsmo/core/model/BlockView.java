package org.fmsmo.core.model;

import ai.djl.ndarray.NDManager;
import java.util.List;
import org.fmsmo.api.model.LinearLayer;
import org.fmsmo.api.model.QuantizableModel;
import org.fmsmo.core.nn.Module;

/**
 * One materialised block of a streamed model as a method sees it: its linear layers under their
 * full names ({@code model.layers.3.mlp.down_proj}), swappable in place.
 */
public final class BlockView implements QuantizableModel {

    private final String architecture;
    private final Module block;
    private final NDManager manager;

    /** @param manager owns the block's arrays (and what a method creates for them) */
    public BlockView(String architecture, Module block, NDManager manager) {
        this.architecture = architecture;
        this.block = block;
        this.manager = manager;
    }

    @Override
    public String architecture() {
        return architecture;
    }

    @Override
    public NDManager manager() {
        return manager;
    }

    /** The block's module tree. */
    public Module module() {
        return block;
    }

    @Override
    public List<org.fmsmo.api.quant.KvCacheScales> kvCache() {
        return org.fmsmo.core.quant.KvCache.of(block);
    }

    @Override
    public List<LinearLayer> linearLayers() {
        return LinearLayers.all(block, block.path());
    }

    @Override
    public LinearLayer linear(String name) {
        return LinearLayers.find(block, block.path(), name, architecture + " block " + block.path());
    }

    @Override
    public void replace(String name, LinearLayer replacement) {
        LinearLayers.checkReplacement(linear(name), replacement);
        block.replaceLinear(name.substring(block.path().length() + 1), replacement);
    }
}
