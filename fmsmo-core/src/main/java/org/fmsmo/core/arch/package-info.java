/**
 * The built-in architectures: each a {@link org.fmsmo.api.arch.ModelArchitectureProvider} that reads
 * its {@code config.json} into a description the model package builds and runs. They use the SPI
 * only, as a third party's would.
 */
package org.fmsmo.core.arch;
