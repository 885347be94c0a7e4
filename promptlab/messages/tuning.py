"""Messages of tuning: the tuning config and job spec, the methods, the training loop and the worker."""

_GOT = ("(got {value})", "（实际为 {value}）")

MESSAGES: dict[str, tuple[str, str]] = {
    "method.prompt_tuning": ("prompt tuning", "提示微调（Prompt Tuning）"),
    "method.p_tuning": ("P-tuning", "P-tuning"),
    "method.prefix_tuning": ("prefix tuning (deep prompts, P-tuning v2)", "前缀微调（深度提示，P-tuning v2）"),
    "method.lora": ("LoRA (reference)", "LoRA（参照）"),  # a reference beside the soft prompts: not one itself
    # ---- the tuning config ----
    "config.invalid": ("Invalid tuning config:{problems}", "训练配置无效：{problems}"),
    "config.invalid_for_data": ("Invalid tuning config for this data:{problems}", "训练配置不适用于这份数据：{problems}"),
    "config.item": ("\n- {problem}", "\n- {problem}"),
    "config.not_a_mapping": ("Invalid tuning config: expected a mapping of settings, got {kind}.",
                             "训练配置无效：应为设置项的映射，实际是 {kind}。"),
    "config.unknown_settings": ("Invalid tuning config: unknown setting(s) {names}. Known settings: {known}.",
                                "训练配置无效：未知的设置项 {names}。已知的设置项：{known}。"),
    "config.no_training_rows": ("the training split has no labelled rows: pick another split or add data",
                                "训练划分中没有带标签的行：请选择其他划分或添加数据"),
    "config.batch_over_rows": ("batch_size {batch} is larger than the {n} training examples: lower batch_size to at "
                               "most {n} or add data",
                               "batch_size {batch} 大于训练样本数 {n}：请把 batch_size 降到 {n} 以内，或添加数据"),
    "config.epochs_too_many_steps": ("epochs {epochs} of {n:,} training examples make {steps} steps, more than the "
                                     "limit of {limit:,}: lower epochs, raise batch_size, or set train_size",
                                     "{n:,} 个训练样本训练 {epochs} 轮需要 {steps} 步，超过上限 {limit:,}：请减少 epochs、"
                                     "增大 batch_size，或设置 train_size"),
    "config.choices_objective": ('objective "choices" needs answer choices, but the template has none (generation): '
                                 'use objective "lm"', '目标函数 "choices" 需要候选答案，但模板没有（生成式）：请使用 "lm"'),
    "config.class_labels_init": ('init "class_labels" needs answer choices, but the template has none: use "template"',
                                 '初始化方式 "class_labels" 需要候选答案，但模板没有：请使用 "template"'),
    "config.stopping_metric_needs_choices": ('early_stopping_metric "{metric}" needs answer choices: use exact_match or '
                                             'val_loss', 'early_stopping_metric "{metric}" 需要候选答案：请使用 '
                                             'exact_match 或 val_loss'),
    "config.not_one_of": ('{name} "{value}" is not one of: {allowed}', '{name} "{value}" 不在可选项中：{allowed}'),
    "config.bad_value": ("{name} {reason} " + _GOT[0], "{name}{reason}" + _GOT[1]),
    "config.must_be_bool": ("must be true or false", "必须是 true 或 false"),
    "config.must_be_number": ("must be a number", "必须是数字"),
    "config.must_be_finite_whole": ("must be a finite whole number", "必须是有限的整数"),
    "config.must_be_whole": ("must be a whole number", "必须是整数"),
    "config.far_too_large": ("is far too large", "太大了"),
    "config.must_be_finite": ("must be a finite number", "必须是有限的数"),
    "config.must_be_names": ("must be a list of names", "必须是名称列表"),
    "config.must_be_text": ("must be text", "必须是文本"),
    "config.about": ("about 1e{power}", "约 1e{power}"),
    "config.tokens_at_least_1": ("num_virtual_tokens must be at least 1 for {method} " + _GOT[0],
                                 "{method} 的 num_virtual_tokens 至少为 1" + _GOT[1]),
    "config.tokens_too_many": ("num_virtual_tokens {value} is too many: use at most 1000 (20-100 is usual)",
                               "num_virtual_tokens {value} 太多：最多 1000（通常为 20-100）"),
    "config.not_finite": ("{name} must be a finite number " + _GOT[0], "{name} 必须是有限的数" + _GOT[1]),
    "config.too_large": ("{name} {value} is too large: use at most {limit:,}", "{name} {value} 太大：最多 {limit:,}"),
    "config.too_large_holds": ("{name} {value} is too large: use at most {limit:,} (a job holds the device until it "
                               "ends)", "{name} {value} 太大：最多 {limit:,}（任务结束前会一直占用设备）"),
    "config.bad_lr": ("lr must be a positive number no larger than 10 " + _GOT[0], "lr 必须是不大于 10 的正数" + _GOT[1]),
    "config.at_least_1": ("{name} must be at least 1 " + _GOT[0], "{name} 至少为 1" + _GOT[1]),
    "config.negative": ("{name} must not be negative " + _GOT[0], "{name} 不能为负数" + _GOT[1]),
    "config.keep_checkpoints": ("keep_checkpoints must be at least 1 (got {value}): resume needs a checkpoint",
                                "keep_checkpoints 至少为 1（实际为 {value}）：继续运行需要检查点"),
    "config.no_steps": ("set max_steps or epochs: both are 0, so the run would not train",
                        "请设置 max_steps 或 epochs：两者都是 0，运行将不会训练"),
    "config.decay_norm_negative": ("weight_decay and max_grad_norm must not be negative",
                                   "weight_decay 和 max_grad_norm 不能为负数"),
    "config.lora_dropout": ("lora_dropout must be in [0, 1) " + _GOT[0], "lora_dropout 必须在 [0, 1) 之间" + _GOT[1]),
    "config.lora_needs": ("lora needs lora_r >= 1, lora_alpha > 0 and at least one target module",
                          "lora 需要 lora_r >= 1、lora_alpha > 0，并至少有一个目标模块"),
    "config.no_gradient_checkpointing": ("{method} cannot use gradient_checkpointing (PEFT injects the prefix as past "
                                         "key/values, which checkpointing drops): turn gradient_checkpointing off or "
                                         "pick another method",
                                         "{method} 不能使用 gradient_checkpointing（PEFT 把前缀作为过去的键/值注入，而"
                                         "检查点机制会丢弃它们）：请关闭 gradient_checkpointing 或选择其他方法"),
    "config.prefix_projection_init": ('init "{init}" cannot start a prefix_tuning prefix with prefix_projection (the '
                                      'projection\'s input is not a word embedding): use init "random", or turn '
                                      'prefix_projection off',
                                      '初始化方式 "{init}" 不能用于带 prefix_projection 的 prefix_tuning 前缀（投影层的'
                                      '输入不是词向量）：请使用 "random" 初始化，或关闭 prefix_projection'),
    "config.fp16_on_cpu": ('precision "fp16" is not supported on the CPU: use "fp32" or "bf16"',
                           'CPU 不支持精度 "fp16"：请使用 "fp32" 或 "bf16"'),
    "config.unknown_preset": ('Unknown preset "{name}": use one of {presets}.', '未知的预设 "{name}"：请使用 {presets} 之一。'),
    # ---- the job spec ----
    "spec.not_a_mapping": ("A job spec must be a mapping, not {kind}.", "任务规格必须是映射，而不是 {kind}。"),
    "spec.unknown_keys": ("Unknown job spec key(s): {keys}. Known keys: {known}.",
                          "未知的任务规格键：{keys}。已知的键：{known}。"),
    "spec.needs": ("The job spec needs '{key}' (the template's YAML text and a dataset path or name).",
                   "任务规格需要 '{key}'（模板的 YAML 文本和数据集路径或名称）。"),
    "spec.not_text": ("The job spec's '{key}' must be text, not {kind}.", "任务规格的 '{key}' 必须是文本，而不是 {kind}。"),
    "spec.long_name": ("The job's name is {length:,} characters long: use at most {limit}.",
                       "任务名称长 {length:,} 个字符：最多 {limit} 个。"),
    "spec.no_label_column": ("Dataset '{name}' has no label column, so a classification template cannot be trained on "
                             "it: name the label column (label_column) or use a generation template.",
                             "数据集 '{name}' 没有标签列，因此不能用分类模板在上面训练：请指定标签列（label_column），"
                             "或使用生成式模板。"),
    "spec.same_splits": ("The train and eval splits are both '{split}': pick different splits, so that the validation "
                         "scores are not measured on the training rows. Splits: {splits}. Data with one split can hold "
                         "a validation split out ('holdout' in the spec, --val-fraction in the CLI).",
                         "训练划分和评测划分都是 '{split}'：请选择不同的划分，以免在训练行上测量验证得分。划分：{splits}。"
                         "只有一个划分的数据可以从中划出验证集（规格中的 'holdout'，命令行的 --val-fraction）。"),
    # ---- methods, the loop, checkpoints, the worker ----
    "tuning.cannot_apply": ("Cannot put {method} on this {family} ({model}): {detail}",
                            "无法在这个{family}（{model}）上使用{method}：{detail}"),
    "tuning.template_init_needs_text": ('init "template" needs text: the template has no instruction or prompt text and '
                                        'init_text is empty. Set init_text or use init "class_labels" or '
                                        '"sample_vocab".',
                                        '初始化方式 "template" 需要文本：模板没有指令或提示文本，init_text 也为空。请设置 '
                                        'init_text，或使用 "class_labels" 或 "sample_vocab" 初始化。'),
    "tuning.class_labels_init": ('init "class_labels" needs answer choices, but the template has none: use "template".',
                                 '初始化方式 "class_labels" 需要候选答案，但模板没有：请使用 "template"。'),
    "tuning.loss_not_finite": ("Training stopped at step {step}: the loss is {loss}. Lower the learning rate (lr is "
                               "{lr}), keep max_grad_norm on, or use precision fp32. Checkpoints up to step "
                               "{checkpoint} are intact.",
                               "训练在第 {step} 步停止：损失为 {loss}。请降低学习率（当前 lr 为 {lr}）、保持 "
                               "max_grad_norm 开启，或使用 fp32 精度。第 {checkpoint} 步及之前的检查点完好。"),
    "tuning.batch_too_big": ("{n} training examples cannot fill one batch of {per_step} ({batch} x {processes} "
                             "processes): lower batch_size.",
                             "{n} 个训练样本不够组成一个 {per_step} 的批次（{batch} x {processes} 个进程）：请减小 "
                             "batch_size。"),
    "tuning.checkpoint_misfit": ("Checkpoint {path} does not fit this model (unknown weights {weights}): the run's spec "
                                 "or the base model changed since it was written.",
                                 "检查点 {path} 与该模型不匹配（未知的权重 {weights}）：写入后运行规格或基础模型发生了变化。"),
    "tuning.not_a_run_folder": ("{path} is not a run folder: its spec.json is {problem}.",
                                "{path} 不是运行文件夹：它的 spec.json {problem}。"),
    "tuning.spec_without_job": ("{path} is not a run folder: its spec.json holds no job spec.",
                                "{path} 不是运行文件夹：它的 spec.json 中没有任务规格。"),
    "tuning.worker_signalled": ("The worker was stopped (signal); `runs resume` continues from the last checkpoint.",
                                "训练进程被停止（信号）；`runs resume` 可以从最后的检查点继续。"),
    "tuning.checkpoints_kept": ("checkpoints up to step {step} are intact", "第 {step} 步及之前的检查点完好"),
    "tuning.no_checkpoint_yet": ("no checkpoint yet", "还没有检查点"),
    "tuning.out_of_memory": ("Out of memory during training ({detail}). Start a new run with a smaller batch_size (now "
                             "{batch}; raise grad_accum to keep the effective batch) or max_tokens (now {tokens}), or "
                             "a smaller model; {kept}.",
                             "训练时内存不足（{detail}）。请用更小的 batch_size（当前 {batch}；可增大 grad_accum 保持有效"
                             "批大小）或 max_tokens（当前 {tokens}），或更小的模型重新开始；{kept}。"),
    "tuning.disk_full": ("The disk is full (No space left on device: {where}). Free some space, then `promptlab runs "
                         "resume {run}` continues; {kept}.",
                         "磁盘已满（设备上没有剩余空间：{where}）。请释放一些空间，然后用 `promptlab runs resume {run}` "
                         "继续；{kept}。"),
    "tuning.internal_error": ("Internal error: {error}: {detail}. The log has the details.",
                              "内部错误：{error}: {detail}。详情见日志。"),
    "tuning.launch_exit_code": ("accelerate launch exited with code {code}; see the log.",
                                "accelerate launch 以退出码 {code} 结束；详见日志。"),
    "tuning.no_device": ('Device "{device}" is not available on this machine: use device "auto" or "cpu".',
                         '这台机器上没有设备 "{device}"：请使用 "auto" 或 "cpu"。'),
}
