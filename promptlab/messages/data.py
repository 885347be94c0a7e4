"""Messages of data: reading files, folders and Hub datasets, the data limits, splits and demonstration sampling."""

_SAMPLE_ADVICE = ("Use a sample of its rows (e.g. the first 10,000) or fewer columns, or split it into smaller datasets.",
                  "请使用其中一部分行（例如前 10,000 行）或更少的列，或把它拆成更小的数据集。")
_TOO_FEW = ("lower shots or use a larger train split", "请减少示例数，或使用更大的训练划分")

MESSAGES: dict[str, tuple[str, str]] = {
    # ---- files ----
    "data.unsupported_type": ("{path}: unsupported file type '{suffix}'. Supported: {supported} (.json and .jsonl are "
                              "JSON Lines, one object per line).",
                              "{path}：不支持的文件类型 '{suffix}'。支持：{supported}（.json 和 .jsonl 为 JSON Lines，"
                              "每行一个对象）。"),
    "data.no_extension": ("(no extension)", "（无扩展名）"),
    "data.file_too_big": ("{name} is {size} MB, over the {limit} MB limit for a data file. Use a sample of its rows, or "
                          "split it into several files (e.g. train and validation).",
                          "{name} 大小为 {size} MB，超过数据文件 {limit} MB 的上限。请使用其中一部分行，或把它拆成几个"
                          "文件（例如 train 和 validation）。"),
    "data.no_rows": ("{path} has no rows (only a header, or only blank lines). Add at least one row of data.",
                     "{path} 没有数据行（只有表头或只有空行）。请至少添加一行数据。"),
    "data.empty_file": ("{path} is empty. Add a header line and rows, or pick another file.",
                        "{path} 是空文件。请添加表头和数据行，或选择其他文件。"),
    "data.not_plain_text": ("{path} is not plain UTF-8 text; it looks like {kind}.",
                            "{path} 不是纯 UTF-8 文本；它看起来是{kind}。"),
    "data.looks_like_parquet": ("a Parquet file: give it the .parquet extension",
                                " Parquet 文件：请使用 .parquet 扩展名"),
    "data.looks_like_zip": ("a ZIP archive or an Excel workbook: unzip it, or save the sheet as 'CSV UTF-8'",
                            " ZIP 压缩包或 Excel 工作簿：请解压，或把工作表另存为“CSV UTF-8”"),
    "data.looks_like_gzip": ("gzip-compressed: decompress it first", " gzip 压缩文件：请先解压"),
    "data.looks_like_utf16": ("UTF-16 text: re-save it as UTF-8", " UTF-16 文本：请另存为 UTF-8"),
    "data.binary": ("{path} looks like a binary file, not text. Export the data as .jsonl, .csv or .tsv.",
                    "{path} 看起来是二进制文件，不是文本。请把数据导出为 .jsonl、.csv 或 .tsv。"),
    "data.not_utf8": ("{path} is not valid UTF-8: byte {byte} (line {line}) is {value}. Re-save the file as UTF-8 (in "
                      "Excel: 'CSV UTF-8'; in an editor: 'Save with encoding UTF-8').{gbk}",
                      "{path} 不是有效的 UTF-8：第 {byte} 个字节（第 {line} 行）是 {value}。请把文件另存为 UTF-8（Excel "
                      "中选“CSV UTF-8”；编辑器中选“以 UTF-8 编码保存”）。{gbk}"),
    "data.reads_as_gbk": (" It reads as GB18030/GBK, a Chinese encoding, so convert from that.",
                          "它可以按 GB18030/GBK（一种中文编码）读取，请从该编码转换。"),
    "data.json_line_not_object": ('{path}, line {line}: expected a JSON object like {{"text": "...", "label": "..."}}, '
                                  'found {found}. Each line must hold one object (one row).',
                                  '{path} 第 {line} 行：应为类似 {{"text": "...", "label": "..."}} 的 JSON 对象，实际是'
                                  '{found}。每行必须是一个对象（一行数据）。'),
    "data.json_list": ("a list", "列表"),
    "data.json_string": ("a string", "字符串"),
    "data.json_bool": ("true/false", "true/false"),
    "data.json_number": ("a number", "数字"),
    "data.too_deep": ("{path}, line {line}: a value nests lists or objects {depth:,} levels deep, too deep to read. "
                      "Cells may hold nested values a few hundred levels deep at most: flatten that value, or drop it.",
                      "{path} 第 {line} 行：有一个值的列表或对象嵌套了 {depth:,} 层，太深，无法读取。单元格中的嵌套值"
                      "最多几百层：请把该值展平，或删除它。"),
    "data.json_spread": ("{path} holds one JSON value spread over several lines. PromptLab reads JSON Lines (one object "
                         "per line) or a JSON array of objects: write one row per line.",
                         "{path} 中的一个 JSON 值分布在多行。PromptLab 读取 JSON Lines（每行一个对象）或由对象组成的 "
                         "JSON 数组：请每行写一行数据。"),
    "data.json_line_invalid": ("{path}, line {line}: not valid JSON ({detail} at column {column}). Each line must be "
                               "one complete JSON object; check quotes, commas and brackets on that line.",
                               "{path} 第 {line} 行：不是有效的 JSON（第 {column} 列：{detail}）。每行必须是一个完整的 "
                               "JSON 对象；请检查该行的引号、逗号和括号。"),
    "data.json_invalid": ("{path}, line {line}: not valid JSON ({detail} at column {column}).",
                          "{path} 第 {line} 行：不是有效的 JSON（第 {column} 列：{detail}）。"),
    "data.json_item_not_object": ('{path}: item {index} of the JSON array is {found}, not an object. Each item must be '
                                  'one row, e.g. {{"text": "...", "label": "..."}}.',
                                  '{path}：JSON 数组的第 {index} 项是{found}，不是对象。每一项必须是一行数据，例如 '
                                  '{{"text": "...", "label": "..."}}。'),
    "data.csv_error": ("{path}, line {line}: {detail}. Check the quotes on that line.",
                       "{path} 第 {line} 行：{detail}。请检查该行的引号。"),
    "data.column_twice": ("{path}: the header names column '{name}' twice. Give every column its own name.",
                          "{path}：表头中列 '{name}' 出现了两次。请给每一列不同的名称。"),
    "data.ragged": ("{path}, line {line}: expected {n} fields (like the header: {header}), found {found}. {hint}",
                    "{path} 第 {line} 行：应有 {n} 个字段（与表头一致：{header}），实际有 {found} 个。{hint}"),
    "data.hint_comma": ('A value that contains a comma must be in double quotes, e.g. "light, but loud".',
                        '含逗号的值必须放在双引号中，例如 "light, but loud"。'),
    "data.hint_tab": ("A value must not contain a tab; check for a missing or an extra tab on that line.",
                      "值中不能有制表符；请检查该行是否少了或多了制表符。"),
    "data.saved_hf": ("{folder} looks like a dataset saved by `datasets` (save_to_disk) but could not be loaded: "
                      "{detail}", "{folder} 看起来是 `datasets` 保存的数据集（save_to_disk），但无法加载：{detail}"),
    "data.parquet_unreadable": ("{path}: could not read this Parquet file ({detail}). It may be damaged or cut short.",
                                "{path}：无法读取这个 Parquet 文件（{detail}）。它可能已损坏或不完整。"),
    "data.parquet_empty": ("{path} is empty. Pick another file.", "{path} 是空文件。请选择其他文件。"),
    "data.not_parquet": ("{path} is not a Parquet file (it lacks the Parquet signature). If it is text, give it the "
                         ".jsonl, .csv or .tsv extension that matches its content.",
                         "{path} 不是 Parquet 文件（缺少 Parquet 文件标识）。如果它是文本，请使用与内容相符的 .jsonl、"
                         ".csv 或 .tsv 扩展名。"),
    # ---- datasets, folders and the Hub ----
    "data.no_split": ("Dataset '{name}' has no split '{split}'. Its splits: {splits}.",
                      "数据集 '{name}' 没有划分 '{split}'。它的划分：{splits}。"),
    "data.not_a_hub_name": ("'{source}' is not a Hugging Face dataset name. A name is 'owner/dataset' or 'dataset', "
                            "optionally with ':config' (e.g. 'stanfordnlp/sst2', 'nyu-mll/glue:sst2'), in letters, "
                            "digits, '-', '_' and '.'.",
                            "'{source}' 不是 Hugging Face 数据集名称。名称形如 'owner/dataset' 或 'dataset'，可带 "
                            "':config'（例如 'stanfordnlp/sst2'、'nyu-mll/glue:sst2'），只能包含字母、数字、'-'、'_' 和 "
                            "'.'。"),
    "data.builder_name": ("'{source}' names one of the file-format loaders of the `datasets` library, not a dataset "
                          "on the Hub: it would read data files from the server's own folder. Give a Hub dataset name "
                          "(e.g. 'stanfordnlp/sst2'), or pick a file.",
                          "'{source}' 是 `datasets` 库的一种文件格式加载器，不是 Hub 上的数据集：它会读取服务器自己文件夹"
                          "中的数据文件。请给出 Hub 数据集名称（例如 'stanfordnlp/sst2'），或选择一个文件。"),
    "data.config_of_a_path": ("'{source}' reads as the Hub dataset '{name}' with config '{config}', but '{name}' is a "
                              "file or folder here. To read it, give its path ('{name}'); configs exist on the Hub "
                              "only.", "'{source}' 会被读作 Hub 数据集 '{name}' 的配置 '{config}'，但 '{name}' 在这里是"
                              "文件或文件夹。要读取它，请给出其路径（'{name}'）；配置只存在于 Hub 上。"),
    "data.no_data_files": ("Folder {folder} holds no data files ({supported}); it holds: {present}. Put one file per "
                           "split in it, e.g. train.jsonl and validation.jsonl.",
                           "文件夹 {folder} 中没有数据文件（{supported}）；其中有：{present}。请为每个划分放一个文件，"
                           "例如 train.jsonl 和 validation.jsonl。"),
    "data.nothing": ("nothing", "（空）"),
    "data.none": ("none", "无"),
    "data.hub_unreachable": ("the Hugging Face Hub could not be reached (offline); if the dataset is in your local "
                             "Hugging Face cache, set HF_DATASETS_OFFLINE=1 to load it from there",
                             "无法连接 Hugging Face Hub（离线）；如果该数据集在本地 Hugging Face 缓存中，请设置 "
                             "HF_DATASETS_OFFLINE=1 从缓存加载"),
    "data.hub_failed": ("loading '{name}' from the Hugging Face Hub failed ({error}: {detail})",
                        "从 Hugging Face Hub 加载 '{name}' 失败（{error}: {detail}）"),
    "data.hub_offline": ("the Hugging Face Hub is switched off (HF_DATASETS_OFFLINE / HF_HUB_OFFLINE is set) and "
                         "'{name}' could not be loaded from the local cache ({error})",
                         "Hugging Face Hub 已关闭（设置了 HF_DATASETS_OFFLINE / HF_HUB_OFFLINE），且无法从本地缓存加载 "
                         "'{name}'（{error}）"),
    "data.files_outside": ("The Hub dataset '{source}' lists {n} data file(s) outside its own repository (its README "
                           "or .huggingface.yaml names other paths), so it was not loaded. PromptLab reads a Hub "
                           "dataset's own files only.",
                           "Hub 数据集 '{source}' 列出了 {n} 个位于其仓库之外的数据文件（其 README 或 .huggingface.yaml "
                           "指向其他路径），因此没有加载。PromptLab 只读取 Hub 数据集自己的文件。"),
    "data.did_you_mean_demo": (" Did you mean the demo '{name}'?", "您是想用演示任务 '{name}' 吗？"),
    "data.hub_load_failed": ("Could not load the Hub dataset '{source}': {reason}.{hint} Give another Hub dataset name "
                             "(e.g. 'stanfordnlp/sst2'), upload a file, or pick a built-in demo ({demos}).",
                             "无法加载 Hub 数据集 '{source}'：{reason}。{hint}请换一个 Hub 数据集名称（例如 "
                             "'stanfordnlp/sst2'）、上传文件，或选择内置演示任务（{demos}）。"),
    "data.no_path_and_hub_failed": ("No local file or folder named '{source}', and {reason}.{hint} Pass a path to a "
                                    ".jsonl/.csv/.tsv/.parquet file or a folder of them, or a built-in demo ({demos}).",
                                    "本地没有名为 '{source}' 的文件或文件夹，并且{reason}。{hint}请给出 .jsonl/.csv/"
                                    ".tsv/.parquet 文件或包含它们的文件夹的路径，或选择内置演示任务（{demos}）。"),
    "data.missing_folder": ("No file or folder named '{path}': the folder '{folder}' does not exist either. Check the "
                            "path.", "没有名为 '{path}' 的文件或文件夹：文件夹 '{folder}' 也不存在。请检查路径。"),
    "data.missing_path_guess": ("No file or folder named '{path}'. Did you mean: {names}?",
                                "没有名为 '{path}' 的文件或文件夹。您是想用：{names} 吗？"),
    "data.missing_path": ("No file or folder named '{path}'. Data files in '{folder}': {files}.",
                          "没有名为 '{path}' 的文件或文件夹。'{folder}' 中的数据文件：{files}。"),
    "data.dataset_no_rows": ("Dataset '{name}' has no rows.", "数据集 '{name}' 没有数据行。"),
    "data.no_label_column_named": ("Dataset '{name}' has no column '{column}' to use as labels.{hint} Its columns: "
                                   "{columns}.", "数据集 '{name}' 没有可用作标签的列 '{column}'。{hint}它的列：{columns}。"),
    "data.labels_missing": ("Dataset '{name}', split '{split}': label column '{column}' is empty in {n} of {total} rows "
                            "(first at row {first}, counting from 0). Fill in those labels, drop the rows, or pick "
                            "another column with label_column=.",
                            "数据集 '{name}' 的划分 '{split}'：标签列 '{column}' 在 {total} 行中有 {n} 行为空（第一个在"
                            "第 {first} 行，从 0 开始计数）。请补上这些标签、删除这些行，或用 label_column= 选择其他列。"),
    "data.labels_all_missing": ("Dataset '{name}': label column '{column}' is empty in every row. Fill it in, or pick "
                                "another column with label_column=.",
                                "数据集 '{name}'：标签列 '{column}' 在每一行都为空。请填写它，或用 label_column= 选择"
                                "其他列。"),
    "data.no_label_column": ("Dataset '{name}' has no label column (none is named {names}). Its columns: {columns}. "
                             "Pick one with label_column='...'.",
                             "数据集 '{name}' 没有标签列（没有列名为 {names} 之一）。它的列：{columns}。请用 "
                             "label_column='...' 选择一列。"),
    # ---- reading in a bounded child process, and the limits ----
    "data.busy": ("The server is busy reading other data. Try again in a minute.",
                  "服务器正忙于读取其他数据。请一分钟后再试。"),
    "data.no_paths": ("{problem} Reading files on this server by path is turned off here: upload the file instead.",
                      "{problem}此服务器不允许按路径读取文件：请改为上传文件。"),
    "data.answer_too_long": ("Reading '{source}' gave an answer larger than the data limits allow; it was refused. Use "
                             "a smaller file.", "读取 '{source}' 得到的结果超出了数据限制，已被拒绝。请使用较小的文件。"),
    "data.unreadable_answer": ("Reading '{source}' gave an unreadable answer ({detail}).",
                               "读取 '{source}' 得到了无法解析的结果（{detail}）。"),
    "data.limits_advice": ("Use a smaller file or a sample of its rows: a dataset may hold {size} of data once "
                           "decompressed.", "请使用较小的文件或其中一部分行：一个数据集解压后最多 {size}。"),
    "data.read_memory": ("Reading '{source}' needed more than {size} of memory, so it was stopped; nothing else was "
                         "affected. The data expands to more than that once decompressed and loaded (a small "
                         "compressed file can hold gigabytes). {advice}",
                         "读取 '{source}' 需要超过 {size} 的内存，因此已停止；其他内容不受影响。数据解压并加载后超过了"
                         "这个大小（一个小的压缩文件可能包含数 GB 的数据）。{advice}"),
    "data.read_died": ("Reading '{source}' stopped unexpectedly ({why}), most likely because it needed more than the "
                       "{size} of memory a read may use; nothing else was affected. {advice}",
                       "读取 '{source}' 意外停止（{why}），很可能是因为它需要的内存超过了一次读取允许的 {size}；其他内容"
                       "不受影响。{advice}"),
    "data.read_exit_code": ("Reading '{source}' failed (the reading process ended with exit code {code}).",
                            "读取 '{source}' 失败（读取进程以退出码 {code} 结束）。"),
    "data.read_timeout": ("Reading '{source}' took longer than {seconds} s, so it was stopped. Use a smaller file or a "
                          "sample of its rows; for a Hub dataset, pick a smaller one or try again later.",
                          "读取 '{source}' 用时超过 {seconds} 秒，因此已停止。请使用较小的文件或其中一部分行；如果是 "
                          "Hub 数据集，请选择较小的数据集或稍后再试。"),
    "data.read_too_deep": ("Reading '{source}' failed: a value nests lists or objects too deeply. Flatten nested "
                           "values, or drop them.", "读取 '{source}' 失败：有一个值的列表或对象嵌套过深。请展平或删除"
                           "这些嵌套值。"),
    "data.read_file_too_big": ("Reading '{source}' would write more than {size} to one file (a download or its cache), "
                               "so it was stopped. Pick a smaller dataset.",
                               "读取 '{source}' 会向一个文件（下载文件或其缓存）写入超过 {size}，因此已停止。请选择较小"
                               "的数据集。"),
    "data.read_failed": ("Reading '{source}' failed: {detail}", "读取 '{source}' 失败：{detail}"),
    "data.read_failed_type": ("Reading '{source}' failed ({error}: {detail}).", "读取 '{source}' 失败（{error}: {detail}）。"),
    "data.more_than": ("more than {n}", "超过 {n} 个"),
    "data.over_cells": ("{what} has {cells} cells (rows × columns{others}); the limit is {limit} per dataset. "
                        + _SAMPLE_ADVICE[0],
                        "{what} 有 {cells} 个单元格（行 × 列{others}）；每个数据集的上限为 {limit}。" + _SAMPLE_ADVICE[1]),
    "data.over_bytes": ("{what} holds {size} of data once decompressed and decoded{others}; the limit is {limit} per "
                        "dataset. " + _SAMPLE_ADVICE[0],
                        "{what} 解压并解码后有 {size} 数据{others}；每个数据集的上限为 {limit}。" + _SAMPLE_ADVICE[1]),
    "data.with_files_before": (", with the files of this dataset read before it", "，包括此前读取的该数据集的其他文件"),
    "data.count_million": ("{n} million", "{n} 百万"),
    "data.count_billion": ("{n} billion", "{n} 十亿"),
    "data.bytes": ("{n} bytes", "{n} 字节"),
    # ---- demonstrations and splits ----
    "sampling.negative_shots": ("the number of demonstrations must be 0 or more, got {k}", "示例数必须大于等于 0，实际为 {k}"),
    "sampling.unknown_method": ("unknown sampling method '{method}'; use one of: {methods}",
                                "未知的抽样方式 '{method}'；请使用以下之一：{methods}"),
    "sampling.negative_rows": ("the number of rows must be 0 or more, got {n}", "行数必须大于等于 0，实际为 {n}"),
    "sampling.balanced_needs_labels": ("method='balanced' needs label_column= (the column holding each row's class). "
                                       "The pool's columns: {columns}.",
                                       "method='balanced' 需要 label_column=（存放每行类别的列）。示例池的列：{columns}。"),
    "sampling.fixed_count": ("method='fixed' got {n} indices but k={k}; pass exactly k indices",
                             "method='fixed' 收到 {n} 个下标，但 k={k}；请正好给出 k 个下标"),
    "sampling.index_out_of_range": ("demonstration index {index} is out of range: the pool has {n} rows (indices 0 to "
                                    "{last})", "示例下标 {index} 超出范围：示例池有 {n} 行（下标 0 到 {last}）"),
    "sampling.index_is_query": ("demonstration index {index} is the query row itself; pick other indices, or take "
                                "demonstrations from a split other than the one being scored",
                                "示例下标 {index} 就是待评测的行本身；请选择其他下标，或从评测划分以外的划分中取示例"),
    "sampling.too_few": ("asked for {k} demonstrations but the pool has only {n} rows; " + _TOO_FEW[0],
                         "需要 {k} 个示例，但示例池只有 {n} 行；" + _TOO_FEW[1]),
    "sampling.too_few_without_query": ("asked for {k} demonstrations but the pool has only {n} rows (after leaving out "
                                       "the query row); " + _TOO_FEW[0],
                                       "需要 {k} 个示例，但示例池（去掉待评测的行后）只有 {n} 行；" + _TOO_FEW[1]),
    "sampling.too_few_labelled": ("asked for {k} demonstrations but the pool has only {n} rows with a label in "
                                  "'{column}'; " + _TOO_FEW[0],
                                  "需要 {k} 个示例，但示例池中 '{column}' 有标签的行只有 {n} 行；" + _TOO_FEW[1]),
    "sampling.too_few_without_query_labelled": ("asked for {k} demonstrations but the pool has only {n} rows (after "
                                                "leaving out the query row) with a label in '{column}'; " + _TOO_FEW[0],
                                                "需要 {k} 个示例，但示例池（去掉待评测的行后）中 '{column}' 有标签的行"
                                                "只有 {n} 行；" + _TOO_FEW[1]),
    "splits.bad_fraction": ("The validation fraction must be a number between 0 and 1 (e.g. 0.2 for 20% of the rows), "
                            "got {value}.", "验证集比例必须是 0 到 1 之间的数（例如 0.2 表示 20% 的行），实际为 {value}。"),
    "splits.bad_seed": ("The split seed must be a whole number from 0 to {limit:,}, got {value}.",
                        "划分随机种子必须是 0 到 {limit:,} 之间的整数，实际为 {value}。"),
    "splits.bad_holdout": ("A holdout is {{'fraction': 0.2, 'seed': 0}} (or none), got {value}.",
                           "验证集设置应为 {{'fraction': 0.2, 'seed': 0}}（或不设置），实际为 {value}。"),
    "splits.too_few_rows": ("Dataset '{name}' has {n} row in split '{split}': too few to hold a validation split out "
                            "of it. Add rows, or turn the validation split off.",
                            "数据集 '{name}' 的划分 '{split}' 只有 {n} 行：太少，无法从中划出验证集。请添加数据行，或关闭"
                            "验证集。"),
}
