/**
 * Decides what a run quantizes: traces a forward pass, finds linear layers, attention matmuls and
 * the norms that feed them, and applies the config's skip rules ({@link org.fmsmo.core.analysis.QuantPlanner}).
 */
package org.fmsmo.core.analysis;
