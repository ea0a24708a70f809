/**
 * The assembled distribution: the host modules on the launcher's path, the bundled plugins in
 * {@code plugins/<id>/}. It has no code of its own; {@code bin/fmsmo} starts
 * {@code org.fmsmo.core.cli.Main}.
 */
module org.fmsmo.distribution {
    requires org.fmsmo.core;
}
