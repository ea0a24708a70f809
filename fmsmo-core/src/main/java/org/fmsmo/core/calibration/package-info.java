/** Calibration examples (token batches) and the hidden states they carry from block to block, in memory or offloaded to files. */
package org.fmsmo.core.calibration;
