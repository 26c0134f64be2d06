package peers;

import java.util.Properties;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.streaming.api.CheckpointingMode;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;

/**
 * The word count on Flink: a Kafka source over records whose value is one
 * word as a JSON string ("apple"), keyBy then reduce, and each running
 * count written as {"word":"apple","count":3} by the Kafka sink with
 * DeliveryGuarantee.EXACTLY_ONCE (Kafka transactions committed on each
 * checkpoint), on a local MiniCluster with parallelism 2 and a checkpoint
 * every second, stored on disk under CHECKPOINT_DIR (not in the
 * JobManager's memory), so that a JVM kill would not lose it.
 *
 * Usage: WordCount BOOTSTRAP INPUT OUTPUT TRANSACTIONAL_ID_PREFIX CHECKPOINT_DIR
 */
public final class WordCount {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        Configuration config = new Configuration();
        config.set(CheckpointingOptions.CHECKPOINT_STORAGE, "filesystem");
        config.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, "file://" + args[4]);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(2, config);
        env.enableCheckpointing(1_000, CheckpointingMode.EXACTLY_ONCE);

        KafkaSource<String> source = KafkaSource.<String>builder()
            .setBootstrapServers(bootstrap)
            .setTopics(args[1])
            .setGroupId(args[3])
            .setStartingOffsets(OffsetsInitializer.earliest())
            .setValueOnlyDeserializer(new SimpleStringSchema())
            .build();

        Properties producer = new Properties();
        // Longer than a checkpoint, within the broker's default maximum (15 min).
        producer.setProperty("transaction.timeout.ms", "600000");
        KafkaSink<String> sink = KafkaSink.<String>builder()
            .setBootstrapServers(bootstrap)
            .setKafkaProducerConfig(producer)
            .setRecordSerializer(KafkaRecordSerializationSchema.builder()
                .setTopic(args[2])
                .setValueSerializationSchema(new SimpleStringSchema())
                .build())
            .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
            .setTransactionalIdPrefix(args[3])
            .build();

        env.fromSource(source, WatermarkStrategy.noWatermarks(), "words")
            .map(value -> Tuple2.of(word(value), 1L))
            .returns(Types.TUPLE(Types.STRING, Types.LONG))
            .keyBy(pair -> pair.f0)
            .reduce((a, b) -> Tuple2.of(a.f0, a.f1 + b.f1))
            .map(pair -> "{\"word\":\"" + pair.f0 + "\",\"count\":" + pair.f1 + "}")
            .sinkTo(sink);
        env.execute("bench-peers word count");
    }

    /** The word of a JSON string value: "apple" gives apple. */
    static String word(String json) {
        String trimmed = json.trim();
        return trimmed.length() >= 2 && trimmed.startsWith("\"") && trimmed.endsWith("\"")
            ? trimmed.substring(1, trimmed.length() - 1)
            : trimmed;
    }
}
