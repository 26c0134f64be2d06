package peers;

import java.util.Properties;
import java.util.concurrent.CountDownLatch;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Produced;

/**
 * The word count of the Kafka Streams documentation (WordCountDemo), over
 * records whose value is one word as a JSON string ("apple"), writing each
 * word's count as {"word":"apple","count":3}.
 *
 * Settings: processing.guarantee=exactly_once_v2, one stream thread per
 * core (-Dthreads=N overrides), everything else at its default (commit
 * interval 100 ms under exactly-once, record cache 10 MB).
 *
 * Usage: WordCount BOOTSTRAP INPUT OUTPUT STATE_DIR APPLICATION_ID
 */
public final class WordCount {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, args[4]);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.getInteger("threads", Runtime.getRuntime().availableProcessors()));
        props.put(StreamsConfig.STATE_DIR_CONFIG, args[3]);
        props.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        props.put("auto.offset.reset", "earliest");

        StreamsBuilder builder = new StreamsBuilder();
        builder.<String, String>stream(args[1])
            .mapValues(WordCount::word)
            .groupBy((key, word) -> word)
            .count()
            .toStream()
            .mapValues((word, count) -> "{\"word\":\"" + word + "\",\"count\":" + count + "}")
            .to(args[2], Produced.with(Serdes.String(), Serdes.String()));

        KafkaStreams streams = new KafkaStreams(builder.build(), props);
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            streams.close();
            done.countDown();
        }));
        streams.start();
        done.await();
    }

    /** The word of a JSON string value: "apple" gives apple. */
    static String word(String json) {
        String trimmed = json.trim();
        return trimmed.length() >= 2 && trimmed.startsWith("\"") && trimmed.endsWith("\"")
            ? trimmed.substring(1, trimmed.length() - 1)
            : trimmed;
    }
}
