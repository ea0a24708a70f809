/**
 * Checkpoints in and out: loading a model folder (whole or block by block), the installed formats
 * that write and decode quantized layers, and the native (fms) checkpoint.
 */
package org.fmsmo.core.checkpoint;
