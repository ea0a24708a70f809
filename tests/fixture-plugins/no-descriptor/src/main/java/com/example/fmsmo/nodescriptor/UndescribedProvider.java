package com.example.fmsmo.nodescriptor;

import org.fmsmo.api.quant.QuantMethod;
import org.fmsmo.api.quant.QuantMethodProvider;

/** A provider in a jar without Plugin-* manifest headers. */
public final class UndescribedProvider implements QuantMethodProvider {

    @Override
    public String name() {
        return "undescribed";
    }

    @Override
    public QuantMethod create() {
        throw new UnsupportedOperationException("a plugin without descriptor must never be selected");
    }
}
