/** Moves a frozen model's quantized layers onto a deploy backend's kernels. */
package org.fmsmo.core.deploy;
