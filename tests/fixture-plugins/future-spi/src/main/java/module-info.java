/** Test fixture plugin 'future-spi'. */
module com.example.future {
    requires org.fmsmo.api;

    provides org.fmsmo.api.quant.QuantMethodProvider with com.example.fmsmo.future.FutureProvider;
}
