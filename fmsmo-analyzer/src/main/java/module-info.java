/** Turns a model and a config into a QuantPlan: which layers to quantize or skip, and why. */
module org.fmsmo.analyzer {
    requires transitive org.fmsmo.api;
    requires org.fmsmo.core;

    exports org.fmsmo.analyzer;

    provides org.fmsmo.core.session.ModelAnalyzer with org.fmsmo.analyzer.TracingAnalyzer;
}
