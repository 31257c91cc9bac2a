"""Every leaf key of the recipe schema, each with its evidence (tests/integration/recipe_keys.sh).

For each key one of:
  run(BASE, SET..., part=P, vs=[SET...])
                              a short run of BASE with the override(s) differs from BASE's own run
                              (both with the `vs` settings) in part P: "metrics" (logged values and the exported weights, timings left
                              out), "files" (the run directory's listing) or "log" (its log, numbers
                              and times masked)
  refused(BASE, SET..., pattern=RE)
                              `posttrain validate` refuses the combination in which the key does
                              nothing, naming where it was set (--set ... (key)) and why, and
                              `run --dry-run` refuses it with the same message
  see(TEST, RE)               a heavier test owns the evidence (multi-rank, GPU, learning runs); the
                              line of TEST matching RE sets this key
A key may list several. The walk fails when the schema has a leaf this table does not name (a new key
needs its evidence here), when the table names a key the schema lacks, or when any evidence fails.
"""
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys

POSTTRAIN, TMP, SFT_MODEL = sys.argv[1], sys.argv[2], sys.argv[3]
ROOT = os.getcwd()
Q = f"{ROOT}/examples/quickstart"
LENGTH = "algorithm.grpo.rewards=[{name: exact_match}, {name: length_penalty, target_tokens: 4, penalty_scale: 8}]"
SHORT = ["trainer.max_steps=3", "logging.every=1", "trainer.eval.every=2", "checkpoint.every=2",
         "data.max_eval_records=16", "schedule.warmup_steps=1"]
BASES = {
    "sft": ("examples/quickstart/recipe.yaml", SHORT + ["trainer.global_batch_tokens=1024", "trainer.eval.max_new_tokens=4"]),
    "dpo": ("examples/dpo/recipe.yaml", SHORT + [f"model.path={SFT_MODEL}", "trainer.global_batch_tokens=512"]),
    "kto": ("examples/dpo/recipe.yaml", SHORT + [f"model.path={SFT_MODEL}", "trainer.global_batch_tokens=512",
                                                 "algorithm={name: kto}",
                                                 f"data.sources=[{{name: kto, path: {TMP}/kto.jsonl, format: unpaired}}]"]),
    # GRPO's rewards: exact match (0 for this model) and a length penalty (spread within every group).
    "grpo": ("examples/grpo/recipe.yaml", SHORT + [f"model.path={SFT_MODEL}", "trainer.global_batch_tokens=128",
                                                   "trainer.micro_batch_tokens=128", LENGTH]),
    "ppo": ("examples/grpo/recipe.yaml", SHORT + [f"model.path={SFT_MODEL}", "trainer.global_batch_tokens=128",
                                                  "trainer.micro_batch_tokens=128", LENGTH,
                                                  "algorithm.grpo.advantage=gae", "algorithm.grpo.group_size=1",
                                                  "algorithm.grpo.critic.warmup_steps=1"]),
    "distill": ("examples/distill/recipe.yaml", SHORT + [f"algorithm.distill.teacher={SFT_MODEL}",
                                                         "trainer.global_batch_tokens=1024"]),
    "rm": ("examples/reward_model/recipe.yaml", SHORT + ["trainer.global_batch_tokens=512",
                                                         f"model.path={TMP}/rm-base/model"]),
    "init": ("examples/reward_model/base.yaml", SHORT + ["trainer.global_batch_tokens=512"]),
}


def run(base, *sets, part="metrics", vs=()):
    # vs: settings of both runs (the key's effect is shown against the same run without `sets`)
    return ("run", base, list(sets), part, list(vs))


def refused(base, *sets, pattern):
    return ("refused", base, list(sets), pattern)




EVAL_SOURCE = [f"data.eval_sources=[{{path: {Q}/train.jsonl, name: addition}}]", "data.eval_fraction=0"]
TWO_SOURCES = f"data.sources=[{{path: {Q}/train.jsonl, name: a}}, {{path: {TMP}/half.jsonl, name: b}}]"


def see(test, pattern):
    return ("see", test, pattern)


KEYS = {
    "base": [see("unit/recipe/test_recipe_parse.cpp", r"base inheritance deep-merges maps")],
    # --- run
    "run.name": [run("sft", "run.name=other", part="dir")],
    "run.output_dir": [run("sft", f"run.output_dir={TMP}/elsewhere", part="dir")],
    "run.seed": [run("sft", "run.seed=8")],
    # --- model
    "model.path": [run("sft", f"model.path={SFT_MODEL}")],
    "model.dtype": [run("sft", "model.dtype=bfloat16")],
    "model.attention": [run("sft", "model.attention=eager")],
    # Results are the same by design (memory and speed change): the tests that show the sameness.
    "model.activation_checkpointing": [see("unit/model/test_model_training.cpp", r"activation checkpointing gives the same")],
    "model.vocab_pad_multiple": [run("sft", "model.vocab_pad_multiple=128", part="log")],
    "model.head.type": [see("classify.sh", r"head"), refused("sft", "model.head.type=sequence_classification",
                                                             pattern="head")],
    "model.head.num_labels": [refused("sft", "model.head.num_labels=3", pattern="num_labels")],
    "model.lora.rank": [run("sft", "model.lora.rank=8", vs=["model.lora={rank: 4}"])],
    "model.lora.alpha": [run("sft", "model.lora.alpha=64", vs=["model.lora={rank: 4}"])],
    "model.lora.dropout": [run("sft", "model.lora.dropout=0.3", vs=["model.lora={rank: 4}"])],
    "model.lora.target_modules": [run("sft", "model.lora.target_modules=[q_proj]", vs=["model.lora={rank: 4}"])],
    "model.lora.merge_on_export": [run("sft", "model.lora.merge_on_export=true", vs=["model.lora={rank: 4}"], part="files"),
                                   refused("sft", "model.lora={rank: 4, merge_on_export: true}",
                                           "checkpoint.save_final_hf=false", pattern="merge_on_export")],
    "model.init.architecture": [run("init", "model.init.architecture=LlamaForCausalLM")],
    "model.init.head_dim": [run("init", "model.init.head_dim=16")],
    "model.init.hidden_size": [run("init", "model.init.hidden_size=64")],
    "model.init.initializer_range": [run("init", "model.init.initializer_range=0.05")],
    "model.init.intermediate_size": [run("init", "model.init.intermediate_size=128")],
    "model.init.max_position_embeddings": [refused("init", "model.init.max_position_embeddings=32",
                                                   pattern="max_position_embeddings")],
    "model.init.num_attention_heads": [run("init", "model.init.num_attention_heads=2", "model.init.num_key_value_heads=2")],
    "model.init.num_hidden_layers": [run("init", "model.init.num_hidden_layers=1")],
    "model.init.num_key_value_heads": [run("init", "model.init.num_key_value_heads=1")],
    "model.init.rms_norm_eps": [run("init", "model.init.rms_norm_eps=0.1")],
    "model.init.rope_theta": [run("init", "model.init.rope_theta=100")],
    "model.init.tie_word_embeddings": [run("init", "model.init.tie_word_embeddings=false")],
    "model.init.vocab_size": [run("init", "model.init.vocab_size=512", part="log")],
    # --- tokenizer
    "tokenizer.path": [run("sft", f"tokenizer.path={TMP}/tokenizer2")],
    "tokenizer.chat_template": [run("sft", f"tokenizer.chat_template={ROOT}/tests/assets/chat/templates/phi3.jinja")],
    "tokenizer.add_special_tokens": [run("sft", "tokenizer.add_special_tokens=[<extra>]", part="log")],
    "tokenizer.add_tokens": [run("sft", "tokenizer.add_tokens=[<x>, <y>]", part="log")],
    "tokenizer.add_tokens_file": [see("vocab.sh", r"add_tokens_file")],
    "tokenizer.train_new_tokens_only": [refused("sft", "tokenizer.train_new_tokens_only=true",
                                                pattern="train_new_tokens_only")],
    "tokenizer.train_roles": [run("sft", "tokenizer.train_roles=[assistant, user]")],
    "tokenizer.last_turn_only": [see("unit/tokenizer/test_mask_chat.cpp", r"last_turn_only")],
    # --- data
    "data.sources[].path": [run("sft", f"data.sources[0].path={TMP}/half.jsonl", "data.sources[0].name=addition")],
    "data.sources[].name": [run("sft", "data.sources[0].name=sums", part="log")],
    "data.sources[].format": [refused("sft", "data.sources[0].format=preference", pattern="preference")],
    "data.sources[].weight": [run("sft", "data.sources[1].weight=5", vs=[TWO_SOURCES])],
    "data.sources[].epochs": [run("sft", "data.sources[0].epochs=2", vs=["trainer.max_steps=0"]),
                              refused("sft", "data.sources[0].epochs=2", pattern="epochs")],
    "data.sources[].fields": [see("classify.sh", r"fields: \{label: sevens\}"),
                              see("unit/data/test_data_formats.cpp", r"fields")],
    "data.sources[].truncation": [run("sft", "data.sources[0].truncation=split",
                                      vs=["data.seq_len=16", "data.sources[0].truncation=left"])],
    "data.eval_sources[].path": [run("sft", f"data.eval_sources[0].path={TMP}/tail.jsonl", vs=EVAL_SOURCE)],
    "data.eval_sources[].name": [run("sft", "data.eval_sources[0].name=held", vs=EVAL_SOURCE)],
    "data.eval_sources[].format": [refused("sft", f"data.eval_sources=[{{path: {Q}/train.jsonl, format: preference}}]",
                                           "data.eval_fraction=0", pattern="preference")],
    "data.eval_sources[].weight": [refused("sft", f"data.eval_sources=[{{path: {Q}/train.jsonl, weight: 2}}]",
                                           "data.eval_fraction=0", pattern="weight")],
    "data.eval_sources[].epochs": [refused("sft", f"data.eval_sources=[{{path: {Q}/train.jsonl, epochs: 2}}]",
                                           "data.eval_fraction=0", pattern="epochs")],
    "data.eval_sources[].fields": [see("unit/data/test_data_formats.cpp", r"fields")],  # the same record encoder
    "data.eval_sources[].truncation": [run("sft", "data.eval_sources[0].truncation=left",
                                           vs=EVAL_SOURCE + ["data.seq_len=16", "data.sources[0].truncation=left"])],
    "data.eval_fraction": [run("sft", "data.eval_fraction=0.2")],
    "data.max_eval_records": [run("sft", "data.max_eval_records=4")],
    "data.seq_len": [run("sft", "data.seq_len=128")],
    "data.packing": [run("sft", "data.packing=false")],
    "data.pack_window": [run("sft", "data.pack_window=1"), refused("sft", "data.packing=false", "data.pack_window=4",
                                                                   pattern="pack_window")],
    "data.shuffle": [run("sft", "data.shuffle=false")],
    "data.prefetch": [see("unit/data/test_packer.cpp", r"the stream is a function of the seed")],  # a buffer size
    "data.on_bad_record": [see("unit/data/test_packer.cpp", r"bad records stop the run by default and are skipped")],
    "data.max_bad_records": [see("unit/data/test_packer.cpp", r"counted and capped on request"),
                             refused("sft", "data.max_bad_records=3", pattern="max_bad_records")],
    "data.stream_chunk_kb": [see("streaming.sh", r"stream_chunk_kb")],
    # --- parallel
    "parallel.device": [see("gpu_labels.sh", r"device")],
    "parallel.data_parallel": [see("cli.sh", r"data_parallel")],
    "parallel.tensor_parallel": [see("tensor_parallel.sh", r"tensor_parallel")],
    "parallel.strategy": [see("data_parallel.sh", r"strategy")],
    "parallel.backend": [refused("sft", "parallel.backend=nccl", pattern="nccl")],
    "parallel.zero_stage": [see("data_parallel.sh", r"zero_stage"),
                            refused("sft", "parallel.zero_stage=2", pattern="zero_stage is only read by strategy fsdp")],
    "parallel.bucket_mb": [see("data_parallel.sh", r"bucket_mb")],
    "parallel.timeout_s": [see("data_parallel.sh", r"timeout_s")],
    # --- optimizer, schedule
    "optimizer.name": [refused("sft", "optimizer.name=sgd", pattern="unknown optimizer 'sgd': expected one of adamw")],
    "optimizer.lr": [run("sft", "optimizer.lr=1e-2")],
    "optimizer.weight_decay": [run("sft", "optimizer.weight_decay=0.5")],
    "optimizer.betas": [run("sft", "optimizer.betas=[0.5, 0.9]")],
    "optimizer.eps": [run("sft", "optimizer.eps=0.1")],
    "schedule.name": [run("sft", "schedule.name=linear", vs=["trainer.max_steps=6"])],
    "schedule.warmup_steps": [run("sft", "schedule.warmup_steps=2")],
    "schedule.min_lr_ratio": [run("sft", "schedule.min_lr_ratio=0.9"),
                              refused("sft", "schedule.name=constant", "schedule.min_lr_ratio=0.5", pattern="min_lr_ratio")],
    # --- trainer
    "trainer.max_steps": [run("sft", "trainer.max_steps=2")],
    "trainer.epochs": [run("sft", "trainer.epochs=2", vs=["trainer.max_steps=0"]),
                       refused("sft", "trainer.epochs=2", pattern="epochs")],
    "trainer.global_batch_tokens": [run("sft", "trainer.global_batch_tokens=2048")],
    "trainer.micro_batch_tokens": [run("sft", "trainer.micro_batch_tokens=512")],
    "trainer.max_grad_norm": [run("sft", "trainer.max_grad_norm=0.01")],
    "trainer.precision": [run("sft", "trainer.precision=bf16")],
    "trainer.ce_chunk_tokens": [see("unit/algo/test_losses.cpp", r"chunked cross-entropy equals plain")],
    "trainer.eval.every": [run("sft", "trainer.eval.every=1")],
    "trainer.eval.at_start": [run("sft", "trainer.eval.at_start=false")],
    "trainer.eval.at_end": [run("sft", "trainer.eval.at_end=false")],
    "trainer.eval.max_batches": [run("sft", "trainer.eval.max_batches=1")],
    "trainer.eval.generate": [run("sft", "trainer.eval.generate=false", "trainer.eval.max_new_tokens=64"),
                              refused("grpo", "trainer.eval.generate=true", pattern="generate")],
    "trainer.eval.max_batch": [run("sft", "trainer.eval.max_batch=2", part="log"), see("eval.sh", r"trainer.eval.max_batch=\"\$b\""),
                               refused("sft", "trainer.eval.generate=false", "trainer.eval.max_new_tokens=64",
                                       "trainer.eval.max_batch=2", pattern="max_batch sizes the generation")],
    "trainer.eval.max_new_tokens": [run("sft", "trainer.eval.max_new_tokens=1", vs=[f"model.path={SFT_MODEL}"]),
                                    refused("sft", "trainer.eval.generate=false", "trainer.eval.max_new_tokens=2",
                                            pattern="max_new_tokens")],
    "trainer.eval.tasks": [see("eval.sh", r"trainer.eval.tasks=")],
    # --- checkpoint, logging
    "checkpoint.every": [run("sft", "checkpoint.every=1", vs=["checkpoint.keep_last=3"], part="files")],
    "checkpoint.keep_last": [run("sft", "checkpoint.keep_last=2", vs=["checkpoint.every=1"], part="files")],
    "checkpoint.save_final": [run("sft", "checkpoint.save_final=false", vs=["checkpoint.every=0"], part="files")],
    "checkpoint.save_final_hf": [run("sft", "checkpoint.save_final_hf=false", part="files")],
    "logging.every": [run("sft", "logging.every=2")],
    "logging.level": [run("sft", "logging.level=warn", part="log")],
    "logging.metrics_jsonl": [run("sft", "logging.metrics_jsonl=false", part="files")],
    "logging.tensorboard": [run("sft", "logging.tensorboard=false", part="files")],
    "logging.peak_tflops": [run("sft", "logging.peak_tflops=1", part="log")],
    "logging.progress_bar": [run("sft", "logging.progress_bar=false", part="tty")],
    # --- algorithm
    "algorithm.name": [run("sft", f"algorithm={{name: distill, distill: {{teacher: {SFT_MODEL}}}}}")],
    "algorithm.dpo.beta": [run("dpo", "algorithm.dpo.beta=0.2")],
    "algorithm.dpo.label_smoothing": [run("dpo", "algorithm.dpo.label_smoothing=0.2")],
    "algorithm.dpo.loss": [run("dpo", "algorithm.dpo.loss=ipo")],
    "algorithm.dpo.nll_weight": [run("dpo", "algorithm.dpo.nll_weight=1")],
    "algorithm.dpo.reference": [see("dpo.sh", r"reference")],
    "algorithm.dpo.reference_path": [run("dpo", f"algorithm.dpo.reference_path={Q}/model")],
    "algorithm.dpo.simpo_gamma": [run("dpo", "algorithm.dpo.simpo_gamma=2",
                                      vs=["algorithm.dpo.loss=simpo", "algorithm.dpo.reference=auto"]),
                                  refused("dpo", "algorithm.dpo.simpo_gamma=2", pattern="simpo_gamma")],
    "algorithm.kto.beta": [run("kto", "algorithm.kto.beta=0.5")],
    "algorithm.kto.desirable_weight": [run("kto", "algorithm.kto.desirable_weight=2")],
    "algorithm.kto.undesirable_weight": [run("kto", "algorithm.kto.undesirable_weight=2")],
    "algorithm.kto.reference": [see("kto.sh", r"reference")],
    "algorithm.kto.reference_path": [run("kto", f"algorithm.kto.reference_path={Q}/model")],
    "algorithm.distill.teacher": [see("distill.sh", r"algorithm.distill.teacher=")],
    "algorithm.distill.loss": [run("distill", "algorithm.distill.loss=reverse_kl")],
    "algorithm.distill.alpha": [run("distill", "algorithm.distill.alpha=0.8")],
    "algorithm.distill.beta": [run("distill", "algorithm.distill.beta=0.2", vs=["algorithm.distill.loss=jsd"])],
    "algorithm.distill.temperature": [run("distill", "algorithm.distill.temperature=2")],
    "algorithm.distill.top_k": [run("distill", "algorithm.distill.top_k=4")],
    "algorithm.distill.chunk_tokens": [see("unit/algo/test_logprobs.cpp", r"chunked distillation equals")],
    "algorithm.distill.on_policy": [see("distill.sh", r"algorithm.distill.on_policy=")],
    "algorithm.distill.max_new_tokens": [see("distill.sh", r"algorithm.distill.max_new_tokens=")],
    "algorithm.distill.max_batch": [see("unit/generate/test_engine.cpp", r"max_batch")],
    "algorithm.distill.rollout_ranks": [see("distill.sh", r"rollout_ranks")],
    "algorithm.reward_model.center_coefficient": [run("rm", "algorithm.reward_model.center_coefficient=0.5")],
    "algorithm.grpo.group_size": [run("grpo", "algorithm.grpo.group_size=4")],
    "algorithm.grpo.max_new_tokens": [run("grpo", "algorithm.grpo.max_new_tokens=3")],
    "algorithm.grpo.temperature": [run("grpo", "algorithm.grpo.temperature=0.5")],
    "algorithm.grpo.top_p": [run("grpo", "algorithm.grpo.top_p=0.5")],
    "algorithm.grpo.top_k": [run("grpo", "algorithm.grpo.top_k=2")],
    "algorithm.grpo.min_p": [run("grpo", "algorithm.grpo.min_p=0.3")],
    "algorithm.grpo.loss": [run("grpo", "algorithm.grpo.loss=grpo")],
    "algorithm.grpo.advantage": [run("grpo", "algorithm.grpo.advantage=rloo")],
    "algorithm.grpo.scale_rewards": [run("grpo", "algorithm.grpo.scale_rewards=none")],
    "algorithm.grpo.importance_sampling": [run("grpo", "algorithm.grpo.importance_sampling=sequence")],
    "algorithm.grpo.epsilon": [run("grpo", "algorithm.grpo.epsilon=0.01", vs=["algorithm.grpo.epochs=2"])],
    "algorithm.grpo.epsilon_high": [run("grpo", "algorithm.grpo.epsilon_high=0.01", vs=["algorithm.grpo.epochs=2"])],
    "algorithm.grpo.beta": [run("grpo", "algorithm.grpo.beta=0.1")],
    "algorithm.grpo.kl_in_reward": [run("grpo", "algorithm.grpo.kl_in_reward=true",
                                        vs=["algorithm.grpo.advantage=reinforce_pp", "algorithm.grpo.beta=0.1"]),
                                    refused("grpo", "algorithm.grpo.kl_in_reward=true", pattern="kl_in_reward")],
    "algorithm.grpo.dual_clip": [see("ppo.sh", r"dual_clip")],
    "algorithm.grpo.mini_batches": [run("grpo", "algorithm.grpo.mini_batches=2")],
    "algorithm.grpo.epochs": [run("grpo", "algorithm.grpo.epochs=2")],
    "algorithm.grpo.dynamic_sampling": [see("grpo.sh", r"dynamic_sampling")],
    "algorithm.grpo.overlong_buffer": [run("grpo", "algorithm.grpo.overlong_buffer=4")],
    "algorithm.grpo.overlong_penalty": [run("grpo", "algorithm.grpo.overlong_penalty=3", vs=["algorithm.grpo.overlong_buffer=4"]),
                                        refused("grpo", "algorithm.grpo.overlong_penalty=3", pattern="overlong_buffer")],
    "algorithm.grpo.max_batch": [see("unit/generate/test_engine.cpp", r"max_batch")],
    "algorithm.grpo.rollout_ranks": [see("grpo.sh", r"rollout_ranks")],
    "algorithm.grpo.max_staleness": [see("async_rl.sh", r"max_staleness"),
                                     refused("grpo", "algorithm.grpo.max_staleness=1", pattern="rollout_ranks")],
    "algorithm.grpo.partial_rollouts": [see("async_rl.sh", r"partial_rollouts=true"),
                                        refused("grpo", "algorithm.grpo.partial_rollouts=true", pattern="max_staleness")],
    "algorithm.grpo.share_prompt_prefix": [see("grpo.sh", r"share_prompt_prefix=false")],
    "algorithm.grpo.rollout_correction.mode": [see("async_rl.sh", r"rollout_correction")],
    "algorithm.grpo.rollout_correction.clip_min": [refused("grpo", "algorithm.grpo.rollout_correction.clip_min=0.5",
                                                           pattern="mode is none")],
    "algorithm.grpo.rollout_correction.clip_max": [refused("grpo", "algorithm.grpo.rollout_correction.clip_max=5",
                                                           pattern="mode is none")],
    "algorithm.grpo.gamma": [run("ppo", "algorithm.grpo.gamma=0.5")],
    "algorithm.grpo.lam": [run("ppo", "algorithm.grpo.lam=0.5")],
    "algorithm.grpo.reference": [see("grpo.sh", r"reference")],
    "algorithm.grpo.reference_path": [run("grpo", "algorithm.grpo.beta=0.1", f"algorithm.grpo.reference_path={Q}/model")],
    "algorithm.grpo.critic.model": [run("ppo", "algorithm.grpo.critic.model=policy", vs=["algorithm.grpo.critic.warmup_steps=0"]),
                                    see("ppo.sh", r"critic.model=policy")],
    "algorithm.grpo.critic.value_coef": [run("ppo", "algorithm.grpo.critic.value_coef=5",
                                             vs=["algorithm.grpo.critic.model=policy", "algorithm.grpo.critic.warmup_steps=0"]),
                                         refused("ppo", "algorithm.grpo.critic.value_coef=5", pattern="value_coef weighs")],
    "algorithm.grpo.critic.path": [see("ppo.sh", r"critic")],
    "algorithm.grpo.critic.lr": [run("ppo", "algorithm.grpo.critic.lr=1e-2")],
    "algorithm.grpo.critic.lr_warmup_steps": [run("ppo", "algorithm.grpo.critic.lr_warmup_steps=2")],
    "algorithm.grpo.critic.max_grad_norm": [run("ppo", "algorithm.grpo.critic.max_grad_norm=0.001")],
    "algorithm.grpo.critic.value_clip": [run("ppo", "algorithm.grpo.critic.value_clip=0.001", vs=["algorithm.grpo.epochs=2"])],
    "algorithm.grpo.critic.warmup_steps": [run("ppo", "algorithm.grpo.critic.warmup_steps=2")],
    "algorithm.grpo.rewards[].name": [run("grpo", "algorithm.grpo.rewards=[{name: numeric}]")],
    "algorithm.grpo.rewards[].weight": [run("grpo", "algorithm.grpo.rewards[1].weight=3")],
    "algorithm.grpo.rewards[].label": [run("grpo", "algorithm.grpo.rewards[0].label=mine", part="metrics")],
    "algorithm.grpo.rewards[].answer_field": [run("grpo", "algorithm.grpo.rewards[0].answer_field=nothing",
                                                  vs=["algorithm.grpo.rewards=[{name: numeric, tolerance: 1000}]"])],
    "algorithm.grpo.rewards[].tolerance": [run("grpo", "algorithm.grpo.rewards[0].tolerance=1000",
                                               vs=["algorithm.grpo.rewards=[{name: numeric}]"]),
                                           refused("grpo", "algorithm.grpo.rewards[0].tolerance=3", pattern="tolerance")],
    "algorithm.grpo.rewards[].pattern": [run("grpo", "algorithm.grpo.rewards[0].pattern='[0-9]'",
                                             vs=["algorithm.grpo.rewards=[{name: regex, pattern: x}]"]),
                                         refused("grpo", "algorithm.grpo.rewards[0].pattern=x", pattern="pattern")],
    "algorithm.grpo.rewards[].target_tokens": [run("grpo", "algorithm.grpo.rewards[1].target_tokens=1", vs=[LENGTH])],
    "algorithm.grpo.rewards[].penalty_scale": [run("grpo", "algorithm.grpo.rewards[1].penalty_scale=1", vs=[LENGTH]),
                                               refused("grpo", "algorithm.grpo.rewards[0].penalty_scale=3",
                                                       pattern="penalty_scale")],
    "algorithm.grpo.rewards[].command": [see("grpo.sh", r"command"),
                                         refused("grpo", "algorithm.grpo.rewards[0].command=cat", pattern="command")],
    "algorithm.grpo.rewards[].timeout_s": [refused("grpo", "algorithm.grpo.rewards[0].timeout_s=3", pattern="timeout_s")],
    "algorithm.grpo.rewards[].on_error": [see("grpo.sh", r"on_error")],
    "algorithm.grpo.rewards[].model": [see("reward_model.sh", r"model"),
                                       refused("grpo", "algorithm.grpo.rewards[0].model=x", pattern="model")],
    "algorithm.grpo.environment.name": [see("environments.sh", r"environment.name=guess_number")],
    "algorithm.grpo.environment.max_turns": [see("environments.sh", r"environment.max_turns="),
                                             refused("grpo", "algorithm.grpo.environment.max_turns=3",
                                                     pattern="max_turns is only read")],
    "algorithm.grpo.environment.max_episode_tokens": [see("environments.sh", r"max_episode_tokens")],
    "algorithm.grpo.environment.tool_format": [see("environments.sh", r"tool_format")],
    "algorithm.grpo.environment.on_error": [see("environments.sh", r"environment.on_error=skip")],
    "algorithm.grpo.environment.on_template_rewrite": [refused("grpo", "algorithm.grpo.environment.on_template_rewrite=keep_sampled",
                                                               pattern="on_template_rewrite is only read")],
    "algorithm.grpo.environment.low": [see("environments.sh", r"environment.low=")],
    "algorithm.grpo.environment.high": [see("environments.sh", r"environment.high=")],
    "algorithm.grpo.environment.answer_field": [refused("grpo", "algorithm.grpo.environment.answer_field=x",
                                                        pattern="answer_field is only read")],
    "algorithm.grpo.environment.command": [see("environments.sh", r"environment.command=")],
    "algorithm.grpo.environment.timeout_s": [see("environments.sh", r"environment.timeout_s=")],
    "algorithm.grpo.environment.tools[].name": [see("environments.sh", r"tools\[0\]")],
    "algorithm.grpo.environment.tools[].command": [see("environments.sh", r"tools\[0\].command=")],
    "algorithm.grpo.environment.tools[].description": [refused("grpo", "algorithm.grpo.environment.name=tools",
                                                               "algorithm.grpo.environment.tools=[{name: calculator, description: d}]",
                                                               pattern="built-in tool has its own description")],
    "algorithm.grpo.environment.tools[].parameters": [refused("grpo", "algorithm.grpo.environment.name=tools",
                                                              "algorithm.grpo.environment.tools=[{name: calculator, parameters: {type: object}}]",
                                                              pattern="built-in tool has its own parameters")],
    "algorithm.grpo.environment.tools[].timeout_s": [refused("grpo", "algorithm.grpo.environment.name=tools",
                                                             "algorithm.grpo.environment.tools=[{name: calculator, timeout_s: 3}]",
                                                             pattern="timeout_s is read by command tools")],
}


def schema_leaves():
    schema = json.loads(subprocess.run([POSTTRAIN, "schema"], check=True, capture_output=True, text=True).stdout)
    out = []

    def walk(n, path):
        if "oneOf" in n:
            for o in n["oneOf"]:
                if o.get("type") != "null":
                    walk(o, path)
            return
        items = n.get("items")
        if n.get("type") == "object" and "properties" in n:
            for k, v in n["properties"].items():
                walk(v, path + [k])
        elif n.get("type") == "array" and isinstance(items, dict) and "properties" in items:
            for k, v in items["properties"].items():
                walk(v, path[:-1] + [path[-1] + "[]", k])
        else:
            out.append(".".join(path))
    walk(schema, [])
    return sorted(set(out))


TIMING = re.compile(r"time|_s$|tok/s|tokens_per_s|mfu|memory|rss|eta", re.I)


def fingerprint(out_dir, log):
    metrics = []
    path = os.path.join(out_dir, "metrics.jsonl")
    if os.path.exists(path):
        for line in open(path):
            row = json.loads(line)
            metrics.append({k: v for k, v in row.items() if not TIMING.search(k)})
    weights = hashlib.sha256()
    for root, _, names in sorted(os.walk(os.path.join(out_dir, "model"))):
        for n in sorted(names):
            if n.endswith(".safetensors"):
                weights.update(open(os.path.join(root, n), "rb").read())
    files = sorted(os.path.relpath(os.path.join(r, n), out_dir) for r, ds, ns in os.walk(out_dir) for n in ns + ds
                   if "events.out" not in n)
    masked = [re.sub(r"[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?", "#", re.sub(r"^\[[^\]]*\] ", "", l))
              for l in log.splitlines() if "hash" not in l and "written to" not in l and "saved:" not in l
              and "removing old" not in l]
    return {"metrics": (metrics, weights.hexdigest()), "files": files, "log": masked,
            "dir": (out_dir, os.path.exists(os.path.join(out_dir, "recipe.yaml")))}


def posttrain_run(name, base, sets, tty=False):
    recipe, base_sets = BASES[base]
    args = [POSTTRAIN, "run", recipe, "--resume", "never", "--force"]
    for s in base_sets + [f"run.output_dir={TMP}/runs", f"run.name={name}"] + sets:
        args += ["--set", s]
    if tty:  # on a terminal (script(1) gives the run one), as a user at a console sees it
        args = ["script", "-qec", " ".join(shlex.quote(a) for a in args), "/dev/null"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise AssertionError(f"{name}: the run failed:\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    out = f"{TMP}/runs/{name}"
    for s in sets:  # a changed output place is found where it points
        if s.startswith("run.output_dir="):
            out = f"{s.split('=', 1)[1]}/{name}"
        if s.startswith("run.name="):
            out = f"{TMP}/runs/{s.split('=', 1)[1]}"
    fp = fingerprint(out, p.stdout + p.stderr)
    fp["tty"] = fp["log"] if tty else None
    return fp


baselines = {}


def check(key, ev, n):
    kind = ev[0]
    if kind == "see":
        text = open(os.path.join("tests", ev[1]) if "/" in ev[1] else os.path.join("tests/integration", ev[1])).read()
        assert re.search(ev[2], text), f"{key}: {ev[1]} has no line matching {ev[2]!r}"
        return f"see {ev[1]}"
    base, sets = ev[1], ev[2]
    if kind == "refused":
        recipe = BASES[base][0]
        args = [POSTTRAIN, "validate", recipe]
        for s in BASES[base][1] + sets:
            args += ["--set", s]
        p = subprocess.run(args, capture_output=True, text=True)
        msg = p.stdout + p.stderr
        assert p.returncode != 0, f"{key}: validate accepted {sets}"
        assert re.search(ev[3], msg), f"{key}: validate's message does not match {ev[3]!r}: {msg}"
        assert re.search(r"(--set \S+|\.yaml:[0-9]+:[0-9]+) \(", msg), f"{key}: the refusal names no place: {msg}"
        # run --dry-run gives validate's verdict, with the same message
        dry = subprocess.run([POSTTRAIN, "run", recipe, "--dry-run"] + args[3:], capture_output=True, text=True)
        assert dry.returncode != 0, f"{key}: run --dry-run accepted what validate refused: {sets}"
        why = msg.strip().splitlines()[-1].split(": ", 1)[-1]
        assert why in dry.stdout + dry.stderr, f"{key}: run --dry-run refused otherwise: {dry.stdout + dry.stderr}"
        return "refused: " + msg.strip().splitlines()[-1][:150]
    part, vs = ev[3], ev[4]
    ref = (base, tuple(vs), part == "tty")
    if ref not in baselines:
        baselines[ref] = posttrain_run(f"{base}-reference-{len(baselines)}", base, vs, tty=part == "tty")
    got = posttrain_run(f"{base}-{n}", base, vs + sets, tty=part == "tty")
    assert got[part] != baselines[ref][part], f"{key}: {' '.join(sets)} changes nothing in the run's {part}"
    return f"run: {part} differ"


def main():
    leaves = schema_leaves()
    missing = [k for k in leaves if k not in KEYS]
    extra = [k for k in KEYS if k not in leaves]
    assert not missing, f"schema keys with no evidence in tests/integration/lib/recipe_keys.py: {missing}"
    assert not extra, f"keys in the table that the schema does not have: {extra}"
    only = sys.argv[4:]  # optional: check these keys only
    failures, n = [], 0
    counts = {"run": 0, "refused": 0, "see": 0}
    for key in leaves:
        if only and key not in only:
            continue
        for ev in KEYS[key]:
            n += 1
            try:
                what = check(key, ev, n)
                counts[ev[0]] += 1
                print(f"ok   {key}: {what}")
            except AssertionError as e:
                failures.append(str(e))
                print(f"FAIL {key}: {e}")
    print(f"{len(leaves)} schema keys: {counts['run']} runs differ, {counts['refused']} refusals located, "
          f"{counts['see']} owned by heavier tests; {len(failures)} failures")
    if failures:
        sys.exit(1)


main()
