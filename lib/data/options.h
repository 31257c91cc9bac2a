#pragma once
// Recipe section `data`: sources, mixture, packing.
#include <map>
#include <string>
#include <vector>

#include "recipe/fields.h"

namespace pt::data {

enum class Format { Chat, PromptCompletion, Preference, Unpaired, Prompts, TokenIds, Text, Classification, TokenClassification };
// Formats whose records carry a prompt and a reference answer (RecordEncoder::prompt_and_answer;
// what trainer.eval.generate answers).
inline bool has_prompt_and_answer(Format f) {
  return f == Format::Chat || f == Format::PromptCompletion || f == Format::Preference || f == Format::Unpaired;
}
enum class Truncation { Drop, Left, Right, Split };
enum class BadRecords { Error, Skip };

struct SourceOptions {
  std::string name;
  std::string path;  // file, glob or directory of .jsonl / .jsonl.gz / .jsonl.zst shards
  Format format = Format::Chat;
  double weight = 1.0;
  int epochs = 1;
  std::map<std::string, std::string> fields;  // our field name -> the record's field name
  Truncation truncation = Truncation::Right;

  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("name", name, Spec("source name used in metrics; default = file stem"));
    v.field("path", path, Spec("JSONL file, glob or directory of shards (.gz/.zst ok)").req());
    v.field("format", format, Spec("record format"));
    v.field("weight", weight, Spec("relative sampling weight in the mixture").gt(0));
    v.field("epochs", epochs, Spec("passes over this source before it is exhausted").min(1));
    v.field("fields", fields,
            Spec("field-name mapping, e.g. {messages: conversation, prompt: question}"));
    v.field("truncation", truncation,
            Spec("documents longer than seq_len: drop, cut tokens from the left/right, or split into seq_len "
                 "pieces (each its own document). Counted in metrics; a cut that leaves no trained token drops "
                 "the record"));
  }
};

struct DataOptions {
  std::vector<SourceOptions> sources;
  std::vector<SourceOptions> eval_sources;
  double eval_fraction = 0.0;
  int max_eval_records = 0;
  int seq_len = 2048;
  bool packing = true;
  int pack_window = 256;
  bool shuffle = true;
  int prefetch = 8;
  BadRecords on_bad_record = BadRecords::Error;
  int max_bad_records = 100;
  int stream_chunk_kb = 16384;

  template <class V>
  void visit(V& v) {
    using recipe::Spec;
    v.field("sources", sources, Spec("training sources, mixed by weight"));
    v.field("eval_sources", eval_sources, Spec("held-out evaluation sources"));
    v.field("eval_fraction", eval_fraction,
            Spec("fraction of training records held out for evaluation (deterministic by seed)").min(0).lt(1));
    v.field("max_eval_records", max_eval_records, Spec("cap on held-out records (0 = no cap)").min(0));
    v.field("seq_len", seq_len, Spec("tokens per packed row").min(8).max(1 << 20));
    v.field("packing", packing, Spec("pack several documents per row (document-masked); false = one per row, padded"));
    v.field("pack_window", pack_window, Spec("documents considered for best-fit packing").min(1).max(1 << 16));
    v.field("shuffle", shuffle, Spec("shuffle records within each source per epoch"));
    v.field("prefetch", prefetch, Spec("packed rows buffered by the background packer").min(1).max(4096));
    v.field("on_bad_record", on_bad_record, Spec("malformed records: error (stop) or skip (count and log)"));
    v.field("max_bad_records", max_bad_records, Spec("skip at most this many bad records, then fail").min(0));
    v.field("stream_chunk_kb", stream_chunk_kb,
            Spec("compressed shards (.gz/.zst) are streamed in chunks of this much text: memory holds 5 chunks "
                 "per shard, and shuffling mixes 4 chunks at a time in a random chunk order")
                .min(1)
                .max(1 << 22));
  }
};

}  // namespace pt::data

PT_RECIPE_ENUM(pt::data::Format, {pt::data::Format::Chat, "chat"},
               {pt::data::Format::PromptCompletion, "prompt_completion"},
               {pt::data::Format::Preference, "preference"}, {pt::data::Format::Unpaired, "unpaired"},
               {pt::data::Format::Prompts, "prompts"},
               {pt::data::Format::TokenIds, "token_ids"}, {pt::data::Format::Text, "text"},
               {pt::data::Format::Classification, "classification"},
               {pt::data::Format::TokenClassification, "token_classification"})
PT_RECIPE_ENUM(pt::data::Truncation, {pt::data::Truncation::Drop, "drop"}, {pt::data::Truncation::Left, "left"},
               {pt::data::Truncation::Right, "right"}, {pt::data::Truncation::Split, "split"})
PT_RECIPE_ENUM(pt::data::BadRecords, {pt::data::BadRecords::Error, "error"}, {pt::data::BadRecords::Skip, "skip"})
