/** Test fixture plugin 'stochastic-rtn'. */
module com.example.stochastic {
    requires org.fmsmo.api;

    provides org.fmsmo.api.quant.QuantMethodProvider with com.example.fmsmo.stochastic.StochasticRtnProvider;
}
