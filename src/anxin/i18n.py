"""Language of what a user reads: Chinese first (zh-CN), English on request.

A command line takes it once for its process (``--lang en`` or ANXIN_LANG=en); a web
request takes its own (``?lang=``, the language cookie, ``Accept-Language``), set for
the request alone by :func:`language_scope` — never the process's, so one reader's
choice cannot leak into another's page."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# The request's language while it is being answered (None: the process's).
_REQUEST_LANG: ContextVar[str | None] = ContextVar("anxin_request_lang", default=None)

RULE_NAMES_ZH = {
    "VOLUME_MISMATCH": "油量不符",
    "AMOUNT_MISMATCH": "金额不符",
    "PRICE_MISMATCH": "单价不符",
    "UNMATCHED_SETTLEMENT": "有结算无计量",
    "UNMATCHED_METERING": "有计量无结算",
    "BAD_SIGNATURE": "签名无效",
    "UNKNOWN_DEVICE": "未登记设备",
    "SEQUENCE_GAP": "序号缺失",
    "DUPLICATE_SEQ": "序号重复",
    "METROLOGY_INCONSISTENT": "计量数据自相矛盾",
    "TOTALIZER_JUMP": "累计数跳变",
    "FLOW_IMPLAUSIBLE": "流量异常",
    "K_FACTOR_CHANGE": "K系数变更",
    "SEAL_BREACH": "铅封/防作弊破坏",
    "UNVERIFIED_USE": "未经检定使用",
    "METER_DRIFT": "计量误差超差",
    "TANK_LOSS": "油罐损耗异常",
    "STATION_BIAS": "误差偏向经营者",
    "CLOCK_AHEAD": "时间超前",
    "DATA_OUTAGE": "数据中断",
}

MESSAGES: dict[str, dict[str, str]] = {
    "checking": {"zh": "比对中", "en": "Checking"},
    "simulating": {"zh": "模拟城市数据", "en": "Simulating city"},
    "summary": {"zh": "比对结果", "en": "Check summary"},
    "records": {"zh": "记录", "en": "Records"},
    "kind": {"zh": "类型", "en": "Kind"},
    "count": {"zh": "数量", "en": "Count"},
    "rule": {"zh": "规则", "en": "Rule"},
    "alarms": {"zh": "报警", "en": "Alarms"},
    "rejects": {"zh": "拒收（格式错误）", "en": "Rejected (malformed)"},
    "quarantined": {"zh": "隔离（伪造/未登记）", "en": "Quarantined (forged/unknown)"},
    "clock_ahead": {"zh": "其中时间超前（CLOCK_AHEAD）", "en": "  of which clock ahead (CLOCK_AHEAD)"},
    "as_of": {"zh": "接收时间（--as-of）", "en": "Receipt time (--as-of)"},
    "resends": {"zh": "重复上传（已忽略）", "en": "Identical resends (ignored)"},
    "pending": {"zh": "仍在判定窗口内（未报警）", "en": "Still inside horizon (not alarmed)"},
    "verifications": {"zh": "检定记录（不合格）", "en": "Verifications (failed)"},
    "wall": {"zh": "用时", "en": "Wall time"},
    "meters": {"zh": "计量误差估计（油罐见证）", "en": "Meter estimates (tank witness)"},
    "output": {"zh": "结果目录", "en": "Output"},
    "error": {"zh": "错误", "en": "Error"},
    "serving": {"zh": "实时服务已启动", "en": "Live service listening"},
    "registry_loaded": {"zh": "已导入登记信息，版本", "en": "Registry loaded, version"},
    "no_registry": {
        "zh": "尚无登记信息：用 --registry 导入，或 PUT /v1/registry",
        "en": "No registry yet: load one with --registry, or PUT /v1/registry",
    },
    "token_issued": {"zh": "加油站接口令牌（只显示一次）", "en": "Station API token (shown once)"},
    "none": {"zh": "无", "en": "none"},
    "sim_done": {"zh": "模拟完成", "en": "Simulation done"},
    "truth": {"zh": "真值（评估用）", "en": "Ground truth"},
    "edge_status": {"zh": "站端上传代理", "en": "Edge agent"},
    "edge_backlog": {"zh": "待上传记录", "en": "Lines waiting (backlog)"},
    "edge_oldest": {"zh": "最早待传记录已等待", "en": "Oldest waiting line, age"},
    "edge_last_upload": {"zh": "最近成功上传", "en": "Last successful upload"},
    "edge_read": {"zh": "已读取记录", "en": "Lines read"},
    "edge_confirmed": {"zh": "平台已确认", "en": "Confirmed by the platform"},
    "edge_accepted": {"zh": "接收", "en": "Accepted"},
    "edge_duplicate": {"zh": "重复（平台已有）", "en": "Duplicates (already received)"},
    "edge_rejected": {"zh": "拒收", "en": "Rejected"},
    "edge_quarantined": {"zh": "隔离", "en": "Quarantined"},
    "edge_too_large": {"zh": "超长未上传（本地保留）", "en": "Too large, kept locally"},
    "edge_uploads": {"zh": "上传次数", "en": "Uploads"},
    "edge_last_error": {"zh": "最近错误", "en": "Last error"},
    "edge_sources": {"zh": "数据源", "en": "Sources"},
    "edge_source": {"zh": "文件", "en": "File"},
    "edge_pos": {"zh": "已读字节", "en": "Bytes read"},
    "edge_lines": {"zh": "已读行数", "en": "Lines read"},
    "edge_updated": {"zh": "更新时间", "en": "Updated"},
    "edge_recent_rejected": {
        "zh": "最近被拒记录（详见发件箱 rejected 表）",
        "en": "Recently refused lines (outbox table rejected)",
    },
    "edge_reason": {"zh": "原因", "en": "Reason"},
    "edge_where": {"zh": "来源", "en": "Where"},
    "edge_never": {"zh": "从未", "en": "never"},
    "edge_ago": {"zh": "前", "en": "ago"},
    "edge_no_token": {
        "zh": "需要加油站接口令牌：--token 或环境变量 ANXIN_EDGE_TOKEN",
        "en": "A station API token is needed: --token or env ANXIN_EDGE_TOKEN",
    },
    "edge_no_source": {"zh": "没有数据源：至少一个 --source 或 --mqtt", "en": "No source: give --source and/or --mqtt"},
    "edge_running": {"zh": "站端上传代理运行中（Ctrl-C 停止）", "en": "Edge agent running (Ctrl-C stops)"},
    "edge_stopped": {"zh": "站端上传代理已停止", "en": "Edge agent stopped"},
    "edge_all_sent": {"zh": "全部记录已上传", "en": "Outbox empty: everything uploaded"},
    "edge_left": {
        "zh": "仍有记录待上传（平台不可达或拒绝，数据已保留）",
        "en": "Lines still waiting (platform unreachable or refusing; the data is kept)",
    },
    "edge_bad_server": {
        "zh": "--server {server!r}：应为 http://… 或 https://…",
        "en": "--server {server!r}: expected http://… or https://…",
    },
    # the command line
    "needs_extra": {
        "zh": "此命令需要服务端组件（未安装 {module}）：pip install 'anxin[{extra}]'",
        "en": "This command needs the {extra} extra ({module} is not installed): pip install 'anxin[{extra}]'",
    },
    "cannot_read": {"zh": "无法读取 {path}：{reason}", "en": "cannot read {path}: {reason}"},
    "demo_not_terminal": {
        "zh": "标准输出不是终端：不显示实时画面，也不启动监管控制台；需要控制台请加 --serve（如 anxin demo --serve | tee demo.log）",
        "en": "Standard output is not a terminal: no live view and no console; add --serve for the console "
        "(e.g. anxin demo --serve | tee demo.log)",
    },
    "sim_title": {"zh": "模拟城市", "en": "Simulated city"},
    "sim_stations": {"zh": "加油站", "en": "Stations"},
    "sim_days": {"zh": "天数", "en": "Days"},
    "sim_seed": {"zh": "随机种子", "en": "Seed"},
    "sim_scenarios": {"zh": "场景", "en": "Scenarios"},
    "sim_nozzles": {"zh": "油枪", "en": "Nozzles"},
    "sim_legacy": {"zh": "旧式", "en": "legacy"},
    "sim_tanks": {"zh": "油罐", "en": "Tanks"},
    "sim_sales": {"zh": "交易", "en": "Sales"},
    "sim_malformed": {"zh": "格式错误行（故意）", "en": "Malformed lines (on purpose)"},
    "sim_faults": {"zh": "注入的作弊与故障", "en": "Faults injected"},
    "sim_files": {"zh": "文件", "en": "Files"},
    "eval_data_dir": {"zh": "数据目录", "en": "the data directory"},
    "eval_check_dir": {"zh": "比对结果目录", "en": "the check directory"},
    "eval_truth_dir": {"zh": "真值目录", "en": "the ground truth"},
    "eval_missing": {
        "zh": "{what}不存在：{path}（评估需要 anxin simulate 的数据、其真值与 anxin check 的结果）",
        "en": "{what} does not exist: {path} (evaluation needs anxin simulate's data, its truth and anxin check's output)",
    },
    "eval_empty": {"zh": "{what}中缺少 {files}：{path}", "en": "{what} has no {files}: {path}"},
    # the database (anxin.store)
    "db_missing": {
        "zh": "数据库不存在：{db}（检查 --db；新建或升级用 anxin db upgrade）",
        "en": "No such database: {db} (check --db; anxin db upgrade creates or upgrades it)",
    },
    "db_cannot_open": {"zh": "无法打开数据库 {db}：{reason}", "en": "Cannot open the database {db}: {reason}"},
    "db_cannot_migrate": {"zh": "无法升级数据库 {db}：{reason}", "en": "Cannot upgrade the database {db}: {reason}"},
    "db_no_schema": {
        "zh": "数据库 {db} 尚无表结构：先运行 anxin db upgrade",
        "en": "The database {db} has no schema yet: run anxin db upgrade",
    },
    "db_behind": {
        "zh": "数据库 {db} 的结构版本 {current} 落后于本程序（{head}）：先运行 anxin db upgrade",
        "en": "The database {db} is at schema revision {current}, the code at {head}: run anxin db upgrade",
    },
    "db_ahead": {
        "zh": "数据库 {db} 的结构版本 {current} 比本程序（{head}）新：请使用更新版本的 anxin",
        "en": "The database {db} is at schema revision {current}, newer than this code ({head}): use a newer anxin",
    },
    "db_upgraded": {
        "zh": "数据库 {db} 已从 {before} 升级到 {head}",
        "en": "The database {db} was upgraded from {before} to {head}",
    },
    "db_already_head": {
        "zh": "数据库 {db} 已是最新结构版本 {head}",
        "en": "The database {db} is at the newest schema revision, {head}",
    },
    "db_empty": {"zh": "空库", "en": "empty"},
    "db_current_head": {
        "zh": "数据库 {db}：结构版本 {current}（最新）",
        "en": "The database {db}: schema revision {current} (the newest)",
    },
    "db_current_none": {
        "zh": "数据库 {db}：尚无表结构（本程序为 {head}）：运行 anxin db upgrade",
        "en": "The database {db}: no schema yet (the code is at {head}): run anxin db upgrade",
    },
    "db_current_other": {
        "zh": "数据库 {db}：结构版本 {current}，本程序为 {head}",
        "en": "The database {db}: schema revision {current}, the code at {head}",
    },
    "db_history_title": {"zh": "数据库结构版本", "en": "Schema revisions"},
    "db_col_revision": {"zh": "版本", "en": "Revision"},
    "db_col_after": {"zh": "前一版本", "en": "After"},
    "db_col_message": {"zh": "说明", "en": "Message"},
    "db_head": {"zh": "最新", "en": "head"},
    "backup_done": {"zh": "已备份 {db} → {out}", "en": "Backed up {db} → {out}"},
    "backup_revision": {"zh": "结构版本 {revision}", "en": "schema revision {revision}"},
    "backup_exists": {
        "zh": "{path} 已存在：备份只写入新文件",
        "en": "{path} exists: a backup is only written to a new file",
    },
    "backup_corrupt": {
        "zh": "数据库 {path} 的副本未通过完整性检查：{reason}",
        "en": "The copy of {path} failed its integrity check: {reason}",
    },
    "backup_failed": {"zh": "{path}：{reason}", "en": "{path}: {reason}"},
    "backup_unsupported": {
        "zh": "不支持备份此类数据库：{db}",
        "en": "Cannot back up this kind of database: {db}",
    },
    "pg_tool_missing": {
        "zh": "找不到 {tool}：PostgreSQL 用 pg_dump -Fc 备份、pg_restore 恢复（安装 PostgreSQL 客户端，或手动运行）",
        "en": "{tool} is not on PATH: PostgreSQL is backed up with pg_dump -Fc and restored with pg_restore "
        "(install the PostgreSQL client, or run them yourself)",
    },
    "tool_failed": {"zh": "{tool} 失败：{reason}", "en": "{tool} failed: {reason}"},
    "restore_done": {"zh": "已从 {backup} 恢复到 {db}", "en": "Restored {backup} into {db}"},
    "restore_behind": {
        "zh": "备份的结构版本为 {revision}：运行 anxin db upgrade（或启动 anxin serve）升级",
        "en": "The backup is at schema revision {revision}: anxin db upgrade (or anxin serve) upgrades it",
    },
    "restore_missing": {"zh": "备份文件不存在：{path}", "en": "No such backup: {path}"},
    "restore_exists": {
        "zh": "{path} 已存在：恢复只写入新位置（先移走原数据库及其 -wal、-shm 文件）",
        "en": "{path} exists: a restore only writes to a new place (move the old database and its -wal, -shm away)",
    },
    "restore_not_anxin": {
        "zh": "{path} 不是 anxin 数据库的备份（没有结构版本）",
        "en": "{path} is not a backup of an anxin database (no schema revision)",
    },
    "restore_not_empty": {
        "zh": "数据库 {db} 不是空的：恢复到新建的空数据库（createdb）",
        "en": "The database {db} is not empty: restore into a new, empty database (createdb)",
    },
    "no_registry_export": {
        "zh": "数据库中尚无登记信息：没有可导出的台账",
        "en": "The database has no registry yet: there is no ledger to export",
    },
    "export_not_empty": {
        "zh": "{path} 已存在且不是空目录：导出只写入新目录或空目录",
        "en": "{path} exists and is not an empty directory: an export only writes into a new or empty one",
    },
    "export_done": {
        "zh": "已导出台账 {rows} 行、{files} 个文件到 {out}",
        "en": "Exported {rows} ledger lines in {files} files to {out}",
    },
    "export_registry": {"zh": "登记信息版本 {version}", "en": "registry version {version}"},
    "export_hint": {
        "zh": "复核：anxin check {out} --out 结果目录；校验：cd {out} && sha256sum -c SHA256SUMS",
        "en": "Re-derive the alarms: anxin check {out} --out DIR; check the files: cd {out} && sha256sum -c SHA256SUMS",
    },
    "token_unknown_station": {"zh": "加油站 {station} 未登记", "en": "The station {station} is not registered"},
    "token_unknown_institute": {
        "zh": "检定机构 {institute} 不在登记信息的 institutes 中",
        "en": "The institute {institute} is not among the registry's institutes",
    },
    "token_station_or_institute": {
        "zh": "请给出加油站编号，或 --institute 检定机构编号（二者选一）",
        "en": "Give a station id, or --institute and an institute id (one of them)",
    },
    "token_issued_institute": {
        "zh": "计量检定机构接口令牌（只显示一次）",
        "en": "Verification institute's API token (shown once)",
    },
    # evidence bundles (anxin bundle verify / key)
    "bundle_files": {"zh": "文件哈希", "en": "Files"},
    "bundle_files_ok": {"zh": "一致", "en": "as listed in the manifest"},
    "bundle_files_altered": {"zh": "不一致（已被改动）", "en": "ALTERED"},
    "bundle_signer": {"zh": "清单签名", "en": "Manifest signature"},
    "bundle_signer_bad": {"zh": "缺失或无效", "en": "missing or not valid"},
    "bundle_signer_trusted": {"zh": "有效，签名密钥 {key} 可信", "en": "valid, by {key}, a trusted key"},
    "bundle_signer_untrusted": {
        "zh": "有效，但签名密钥 {key} 不在可信公钥之列（可能被他人重新签名）",
        "en": "valid, but by {key}, not a trusted key (re-signed by someone else?)",
    },
    "bundle_signer_unchecked": {
        "zh": "有效，签名密钥 {key}（未给出可信公钥，无法确认签名者）",
        "en": "valid, by {key} (no trusted key given: the signer is not confirmed)",
    },
    "bundle_timestamp": {"zh": "可信时间戳", "en": "Timestamp (RFC 3161)"},
    "bundle_records": {
        "zh": "记录签名：已验 {checked}，无效 {bad}",
        "en": "Record signatures: checked {checked}, bad {bad}",
    },
    "bundle_verified": {"zh": "证据包核验通过", "en": "Bundle verified"},
    "bundle_not_verified": {"zh": "证据包核验未通过", "en": "Bundle NOT verified"},
    "bundle_no_trusted_key": {
        "zh": "证据包完整，但未用可信公钥确认签名者：请用 --trust-key 给出平台公布的公钥（或 --db）",
        "en": "The bundle is intact, but its signer is not confirmed: give the platform's "
        "published key with --trust-key (or --db)",
    },
    # configuration (anxin.serve.config)
    "secret_both": {
        "zh": "{name} 与 {name}_FILE 同时设置：只能用一个",
        "en": "{name} and {name}_FILE are both set: use one",
    },
    "secret_file_bad": {"zh": "{name}_FILE={path}：{reason}", "en": "{name}_FILE={path}: {reason}"},
    "secret_file_empty": {"zh": "{name}_FILE={path}：文件为空", "en": "{name}_FILE={path}: the file is empty"},
    # accounts and login (anxin.auth)
    "pw_too_short": {"zh": "密码至少需要 {n} 个字符", "en": "The password must have at least {n} characters"},
    "pw_too_long": {"zh": "密码不能超过 {n} 个字符", "en": "The password must have at most {n} characters"},
    "pw_bad_text": {"zh": "密码含有无效字符", "en": "The password contains invalid characters"},
    "pw_blank": {"zh": "密码不能全是空白", "en": "The password cannot be only spaces"},
    "pw_is_username": {"zh": "密码不能与用户名相同", "en": "The password cannot be the username"},
    "pw_one_char": {"zh": "密码不能由同一个字符重复组成", "en": "The password cannot be one character repeated"},
    "pw_common": {
        "zh": "这是常见密码（或其简单变形、重复或连续字符），很容易被猜中，请换一个",
        "en": "This is a common password (or a simple variation, repetition or run of one): it is easy to guess",
    },
    "user_bad_name": {
        "zh": "用户名须为 1–64 个小写字母、数字或 . _ @ -，并以字母或数字开头",
        "en": "A username is 1–64 lower-case letters, digits or . _ @ -, starting with a letter or digit",
    },
    "user_bad_display": {"zh": "姓名须为 1–128 个字符", "en": "The display name must have 1–128 characters"},
    "user_bad_role": {"zh": "未知角色 {role}（可选：{roles}）", "en": "Unknown role {role} (one of: {roles})"},
    "user_stations_operator_only": {
        "zh": "只有加油站经营者（operator）账户可以指定加油站",
        "en": "Only an operator account has stations",
    },
    "user_bad_station": {"zh": "加油站编号过长", "en": "A station id is too long"},
    "user_bad_district": {"zh": "辖区名称不能超过 64 个字符", "en": "The district must have at most 64 characters"},
    "user_exists": {"zh": "用户名 {username} 已存在", "en": "The username {username} is taken"},
    "user_unknown": {"zh": "没有用户 {username}", "en": "No user {username}"},
    "login_bad": {
        "zh": "用户名或密码错误，或尝试过于频繁，请稍后再试",
        "en": "Wrong username or password, or too many attempts: try again later",
    },
    "password_prompt": {"zh": "密码", "en": "Password"},
    "password_again": {"zh": "再次输入密码", "en": "Repeat the password"},
    "password_stdin_empty": {
        "zh": "标准输入中没有密码（第一行即密码）",
        "en": "No password on standard input (its first line is the password)",
    },
    "user_added": {"zh": "已创建用户", "en": "User created"},
    "user_password_set": {
        "zh": "已设置新密码（该用户的会话已结束，登录限速已解除）",
        "en": "Password set (the user's sessions ended, any login throttle lifted)",
    },
    "users_title": {"zh": "用户", "en": "Users"},
    "user_col_username": {"zh": "用户名", "en": "Username"},
    "user_col_name": {"zh": "姓名", "en": "Name"},
    "user_col_role": {"zh": "角色", "en": "Role"},
    "user_col_stations": {"zh": "加油站", "en": "Stations"},
    "user_col_district": {"zh": "辖区", "en": "District"},
    "user_col_state": {"zh": "状态", "en": "State"},
    "user_active": {"zh": "启用", "en": "active"},
    "user_inactive": {"zh": "已停用", "en": "deactivated"},
    "user_throttled_until": {"zh": "登录限速至", "en": "login throttled until"},
    # the audit log (anxin.audit)
    "audit_start": {"zh": "日志开头", "en": "the start of the log"},
    "audit_entry": {"zh": "第 {seq} 条", "en": "entry {seq}"},
    "audit_unlinked": {
        "zh": "第 {seq} 条未与前一条（{after}）相接：其前有条目被删除、插入或调换了顺序",
        "en": "entry {seq} does not link to the one before it ({after}): an entry before it was "
        "deleted, inserted or moved",
    },
    "audit_changed": {
        "zh": "第 {seq} 条写入后被修改（内容与其哈希不符）",
        "en": "entry {seq} was changed after it was written (its content does not match its hash)",
    },
    "audit_anchor_changed": {
        "zh": "第 {seq} 条不是先前记录的锚点（日志自此或更早处被重写）",
        "en": "entry {seq} is not the anchored one (the log was rewritten from here or before)",
    },
    "audit_anchor_gone": {
        "zh": "先前记录的锚点第 {seq} 条已不存在（日志被截断或重写）",
        "en": "the anchored entry {seq} is gone (the log was cut or rewritten)",
    },
    "audit_intact": {"zh": "审计日志完整，共 {n} 条", "en": "The audit log is intact (entries: {n})"},
    "audit_broken": {
        "zh": "审计日志已被篡改，首个问题条目：第 {seq} 条（共 {n} 条）",
        "en": "The audit log was tampered with; first bad entry: {seq} (of {n})",
    },
    "audit_head": {"zh": "最新条目（可另行保存作锚点）", "en": "Newest entry (keep it elsewhere as an anchor)"},
    "audit_bad_anchor": {
        "zh": "锚点格式应为 序号:哈希（64 位十六进制）",
        "en": "An anchor is SEQ:HASH (64 hex digits)",
    },
    "wx_title": {
        "zh": "油罐见证诊断 · 油罐 {tank} · 加油站 {station}",
        "en": "Tank witness · tank {tank} · station {station}",
    },
    "wx_window": {"zh": "数据窗口", "en": "Window"},
    "wx_no_estimate": {
        "zh": "窗口内数据不足，未作估计（以下为分段与残差诊断）",
        "en": "Not enough data in the window for an estimate (segments and residuals below)",
    },
    "wx_meters": {"zh": "各枪计量误差估计", "en": "Meter error per nozzle"},
    "wx_nozzle": {"zh": "油枪", "en": "Nozzle"},
    "wx_k": {"zh": "K系数", "en": "K factor"},
    "wx_error": {"zh": "误差（‰）", "en": "Error (‰)"},
    "wx_interval": {"zh": "95% 置信区间（‰）", "en": "95 % interval (‰)"},
    "wx_status": {"zh": "状态", "en": "Status"},
    "wx_dispensings": {"zh": "加油笔数", "en": "Dispensings"},
    "wx_pooled": {"zh": "罐合计误差", "en": "Tank pooled error"},
    "wx_loss": {"zh": "不明损耗", "en": "Unexplained loss"},
    "wx_anchored": {"zh": "容积表比例由进油单锚定", "en": "Chart scale anchored by delivery notes"},
    "wx_yes": {"zh": "是", "en": "yes"},
    "wx_no": {"zh": "否", "en": "no"},
    "wx_deliveries_n": {"zh": "进油", "en": "Deliveries"},
    "wx_deliveries_of": {
        "zh": "{n} 次，其中 {bad} 次与油罐数据矛盾（未采用）",
        "en": "{n}, of which {bad} contradicted by the tank (dropped)",
    },
    "wx_hours": {"zh": "数据时长（小时）", "en": "Hours of data"},
    "wx_readings": {"zh": "液位读数", "en": "Readings"},
    "wx_readings_of": {"zh": "采用 {used:,} 条，剔除 {rejected:,} 条", "en": "{used:,} used, {rejected:,} rejected"},
    "wx_residual_sd": {"zh": "残差标准差", "en": "Residual SD"},
    "wx_method": {"zh": "估计方法", "en": "Method"},
    "wx_segments": {"zh": "分段", "en": "Segments"},
    "wx_index": {"zh": "序号", "en": "#"},
    "wx_start": {"zh": "起", "en": "Start"},
    "wx_end": {"zh": "止", "en": "End"},
    "wx_n_readings": {"zh": "读数", "en": "Readings"},
    "wx_levels": {"zh": "液位范围（毫米）", "en": "Levels (mm)"},
    "wx_cause": {"zh": "分段原因", "en": "Started by"},
    "wx_deliveries": {"zh": "进油单", "en": "Declared deliveries"},
    "wx_declared": {"zh": "申报（升）", "en": "Declared (L)"},
    "wx_implied": {"zh": "油罐显示（升）", "en": "Tank shows (L)"},
    "wx_difference": {"zh": "差异", "en": "Difference"},
    "wx_used": {"zh": "采用情况", "en": "Used"},
    "wx_anchor_pull": {"zh": "锚定拉动（共同误差）", "en": "The anchors' pull (common error)"},
    "wx_residuals": {"zh": "残差结构", "en": "Residual structure"},
    "wx_by_level": {"zh": "按液位分段的平均残差", "en": "Mean residual by level band"},
    "wx_by_hour": {"zh": "按当地时刻的平均残差", "en": "Mean residual by local hour"},
    "wx_level_mm": {"zh": "液位（毫米）", "en": "Level (mm)"},
    "wx_mean_ml": {"zh": "平均残差（毫升）", "en": "Mean residual (mL)"},
    "wx_n": {"zh": "数量", "en": "n"},
    "wx_hour": {"zh": "时", "en": "Hour"},
    "wx_lag1": {"zh": "相邻残差自相关（滞后 1）", "en": "Lag-1 autocorrelation of residuals"},
    "wx_correction": {"zh": "容积表修正", "en": "Chart correction"},
    "wx_correction_ml": {"zh": "修正（毫升）", "en": "Correction (mL)"},
    "wx_correction_some": {
        "zh": "（共 {n} 个登记液位点，此处显示 {shown} 个；全部见 --json 或控制台导出的修正后容积表）",
        "en": "({shown} of its {n} chart levels shown; all of them with --json, or the corrected chart from the console)",
    },
    "wx_notes": {"zh": "说明", "en": "Notes"},
    "wx_none": {"zh": "无", "en": "none"},
    "wx_dir_or_db": {"zh": "数据目录与 --db 只能二选一", "en": "Give a data directory or --db, not both"},
    "wx_unknown_tank": {
        "zh": "未登记的油罐：{tank}（登记信息中共有 {n} 个油罐）",
        "en": "Unknown tank: {tank} (the registry lists {n} tanks)",
    },
    "wx_no_diagnose": {
        "zh": "此版本的油罐见证估计器不提供诊断（anxin.engine.stats.diagnose）",
        "en": "This version of the tank witness's estimator has no diagnostics (anxin.engine.stats.diagnose)",
    },
    "wx_no_readings": {"zh": "油罐 {tank} 没有液位数据", "en": "Tank {tank} has no readings"},
    "wx_no_readings_window": {
        "zh": "油罐 {tank} 在 {since} 至 {until} 之间没有液位数据",
        "en": "Tank {tank} has no readings between {since} and {until}",
    },
}


# The tank witness's words (油罐见证): the status of an estimate, the leak verdict, and
# the keys the estimator leaves in its results and diagnostics (segment causes, what
# became of each declared delivery, notes, methods). Shared by the console and
# ``anxin witness explain``.
WITNESS: dict[str, tuple[str, str]] = {
    "status.ok": ("正常", "within the target"),
    "status.watch": ("关注（超出 ±2‰ 目标）", "watch (beyond the ±2‰ target)"),
    "status.violation": ("超差（超出 ±3‰ 法定限）", "violation (beyond the ±3‰ limit)"),
    "status.insufficient": ("无法区分", "cannot be told apart"),
    "status.insufficient.hint": (
        "该罐数据不足以区分此枪与同罐其他油枪，区间较宽；罐合计误差可以确定，列在旁边",
        "The tank's data cannot tell this nozzle from the others on it, so its interval is wide; "
        "the tank's pooled error, which the data does determine, stands beside it",
    ),
    "leak.suspected": ("疑似渗漏", "leak suspected"),
    "leak.none": ("未见渗漏", "no leak found"),
    "leak.inconclusive": ("数据不足以判定是否渗漏", "not enough data to decide on a leak"),
    "cause.window": ("窗口起点", "start of the window"),
    "cause.delivery": ("进油", "a delivery"),
    "cause.gap": ("数据中断", "a gap in the readings"),
    "cause.step": ("不明跳变（疑似漏记或虚记加油）", "an unexplained step (a missing or phantom dispensing)"),
    "delivery.used": ("采用", "used"),
    "delivery.contradicted": ("与油罐数据矛盾，未采用", "contradicted by the tank, dropped"),
    "delivery.no_readings": ("一侧无液位数据，未采用", "no readings on one side, dropped"),
    "delivery.unanchored": ("未作锚定（未使用进油单）", "not used as an anchor (delivery notes not used)"),
    "delivery.step": ("不明跳变，未作锚定", "an unexplained step, not an anchor"),
    "delivery.gap": ("数据中断处按连续性衔接", "joined across a gap by continuity"),
    "note.insufficient": (
        "该罐各油枪无法相互区分：各枪给出宽区间与罐合计误差",
        "The tank's nozzles cannot be told apart: each gets a wide interval and the tank's pooled error",
    ),
    "note.not_enough_data": ("窗口内数据不足，未作估计", "Not enough data in the window for an estimate"),
    "note.unanchored": (
        "没有可用的进油单锚定容积表比例：共同误差只靠容积表的先验精度约束，区间相应放宽",
        "No delivery note could anchor the chart's scale: the common error rests on the chart's prior "
        "accuracy alone, and the intervals are wider for it",
    ),
    "note.notes_scatter": (
        "进油单申报量之间的离散大于设定精度：按实际离散计入",
        "The delivery notes scatter more than their stated accuracy: their actual scatter is used",
    ),
    "note.scale_prior_widened": (
        "进油单与容积表在比例上不一致：已按数据放宽容积表比例的先验；进油单少于三张、或偏差超出任何容积表可能的范围时，区间同时容纳两种可能",
        "The delivery notes and the chart disagree on the scale: the chart's prior was widened to what the data "
        "show; with fewer than three notes, or a disagreement beyond any chart's, the interval holds both readings",
    ),
    "note.note_dropped": (
        "有进油单与油罐自身显示的进油量矛盾，已剔除（不影响计量误差估计）",
        "A delivery note the tank contradicts was dropped (it moves no meter estimate)",
    ),
    "note.steps": (
        "液位序列中有不明跳变（疑似漏记或虚记加油），已在该处另起分段",
        "The readings show unexplained steps (missing or phantom dispensings): a new segment starts at each",
    ),
    "note.residuals_correlated": (
        "相邻残差高度相关：区间已按相关性放宽，仍宜结合液位与时刻结构审视",
        "Consecutive residuals are strongly correlated: the intervals allow for it, but look at the structure "
        "by level and hour",
    ),
    "method.anchored": ("进油单锚定容积表比例的联合拟合", "joint fit, chart scale anchored by delivery notes"),
    "method.prior": ("按容积表先验精度约束比例的联合拟合", "joint fit, chart scale held by its prior accuracy"),
}


def witness_text(key: str, language: str | None = None) -> str:
    """The witness word for ``key`` (with or without its ``witness.`` prefix) in
    ``language`` (default: the command line's). A key the catalog lacks is shown as it is
    in English and as a plain placeholder in Chinese (never a raw key on a Chinese page)."""
    i = 0 if (language or lang()) == "zh" else 1
    entry = WITNESS.get(key.removeprefix("witness."))
    if entry is not None:
        return entry[i]
    return "（其他说明）" if i == 0 else key


# A metrology module's events (contract §3 ``event``) in words.
EVENT_NAMES: dict[str, tuple[str, str]] = {
    "k_factor_change": ("K 系数变更", "K factor change"),
    "seal_open": ("铅封打开", "seal opened"),
    "seal_close": ("铅封关闭", "seal closed"),
    "tamper": ("防作弊报警", "tamper"),
    "power_loss": ("断电", "power loss"),
    "power_on": ("上电", "power on"),
    "firmware_update": ("固件升级", "firmware update"),
    "clock_set": ("校时", "clock set"),
}


# The engine's reasons (stored in the evidence as it wrote them) in Chinese, by pattern;
# a reason no pattern knows is shown as it was written (it is evidence).
_REASONS_ZH: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), zh)
    for p, zh in (
        (r"signature does not verify", "签名验证失败"),
        (r"nozzle is not registered", "油枪未登记"),
        (r"key_id is not this nozzle's key", "签名密钥不属于该油枪"),
        (r"nozzle is registered to another station", "油枪登记在其他加油站"),
        (r"verification not signed by a registered institute", "检定记录未经登记的检定机构签名"),
        (r"institute is not registered", "检定机构未登记"),
        (r"key_id is not the institute's key", "签名密钥不属于该检定机构"),
        (r"not authenticated", "未通过认证"),
        (r"last verification failed \((.+)\)", "最近一次检定不合格（证书 {0}）"),
        (r"last verification failed", "最近一次检定不合格"),
        (r"verification expired", "检定已过期"),
        (r"([A-Za-z_ ]+) \(seq (-?\d+)\) since the last passing verification", "上次合格检定后发生「{0}」（序号 {1}）"),
        (r"no metering record with seq (-?\d+)", "无序号 {0} 的计量记录"),
        (r"no unpaired metering ended within 15 min before the sale", "结算前 15 分钟内无未配对的计量记录"),
        (r"metering seq (-?\d+) already settled by order (.+)", "计量序号 {0} 已由订单 {1} 结算"),
        (r"K factor (-?\d+) is not positive", "K 系数 {0} 不为正"),
        (
            r"pulses (-?\d+) at K (-?\d+) give (-?[\d.]+) mL, record says (-?\d+) mL",
            "脉冲 {0}、K 系数 {1} 应为 {2} mL，记录为 {3} mL",
        ),
        (r"totalizers advance (-?\d+) mL, record says (-?\d+) mL", "累计数增加 {0} mL，记录为 {1} mL"),
        (r"negative volume or pulses", "体积或脉冲为负"),
    )
)


# what the engine names inside its reasons (nozzle breaches)
_REASON_WORDS_ZH = {
    "seal breach": "铅封破坏",
    "undeclared K factor change": "未申报的 K 系数变更",
    "unauthorised K factor change": "未经检定的 K 系数变更",
}


def reason_text(reason: object, language: str | None = None) -> str:
    """An engine reason in ``language``: Chinese by pattern (a rule code inside it by its
    name), else as written."""
    text = "" if reason is None else str(reason)
    if (language or lang()) != "zh":
        return text
    for pattern, zh in _REASONS_ZH:
        m = pattern.fullmatch(text)
        if m:
            groups = [_REASON_WORDS_ZH.get(g, RULE_NAMES_ZH.get(g, g)) for g in m.groups()]
            return zh.format(*groups)
    return text


def _norm(value: str) -> str:
    return "en" if value.lower().startswith("en") else "zh"


def lang() -> str:
    """The language of the request being answered, else the process's (its command line)."""
    current = _REQUEST_LANG.get()
    if current is not None:
        return current
    return _norm(os.environ.get("ANXIN_LANG", "zh"))


def set_lang(value: str | None) -> None:
    """The command line's language, for its process (and the workers it starts)."""
    if value:
        os.environ["ANXIN_LANG"] = value


@contextmanager
def language_scope(value: str) -> Iterator[str]:
    """Everything run inside (and the tasks and threads it starts) speaks ``value``."""
    token = _REQUEST_LANG.set(_norm(value))
    try:
        yield _REQUEST_LANG.get() or "zh"
    finally:
        _REQUEST_LANG.reset(token)


def negotiate(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """A web request's language: ``?lang=`` first, then the cookie the language switch
    set, then the browser's ``Accept-Language`` (the first of zh / en it names, by
    quality), else Chinese."""
    for v in (query, cookie):
        if v in ("zh", "en"):
            return v
    best: tuple[float, int, str] | None = None
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        code = tag.split("-")[0]
        if code in ("zh", "en") and q > 0 and (best is None or (q, -i) > (best[0], best[1])):
            best = (q, -i, code)
    return best[2] if best else "zh"


def t(key: str) -> str:
    return MESSAGES[key][lang()]


def rule_name(rule: str) -> str:
    return f"{RULE_NAMES_ZH.get(rule, rule)} {rule}" if lang() == "zh" else rule


def _g(d: dict, *path: str):
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)  # type: ignore[assignment]
    return d


def alarm_text(alarm) -> str:
    """The alarm's message in the language of the moment (the stored message is English)."""
    return alarm_message(alarm.rule, alarm.evidence, alarm.message, seq=getattr(alarm, "seq", None))


def alarm_message(rule: str, ev: dict, message: str, *, seq: int | None = None, language: str | None = None) -> str:
    """An alarm's message rendered from its evidence in ``language`` (default: the
    request's, else the process's). The stored alarm stays language-neutral data; its
    stored ``message`` is the English text, shown as it is in English; in Chinese an
    alarm whose evidence lacks what the sentence needs is named by its rule."""
    if (language or lang()) != "zh":
        return message
    try:
        if rule == "VOLUME_MISMATCH":
            return (
                f"结算 {_g(ev, 'settlement', 'volume_ml')} mL，计量 {_g(ev, 'metering', 'volume_ml')} mL，"
                f"差 {ev['difference_ml']:+d} mL"
            )
        if rule == "AMOUNT_MISMATCH":
            return f"金额 {_g(ev, 'settlement', 'amount_fen')} 分，按量价应为 {ev['expected_amount_fen']} 分"
        if rule == "PRICE_MISMATCH":
            return f"单价 {_g(ev, 'settlement', 'unit_price_fen')} 分/升，挂牌价 {ev['posted_price_fen']} 分/升"
        if rule == "UNMATCHED_SETTLEMENT":
            return f"结算 {_g(ev, 'settlement', 'volume_ml')} mL 无对应计量记录"
        if rule == "UNMATCHED_METERING":
            return f"加油 {_g(ev, 'metering', 'volume_ml')} mL 无对应结算（疑似账外销售）"
        if rule == "BAD_SIGNATURE":
            return "签名验证失败，记录已隔离留证"
        if rule == "UNKNOWN_DEVICE":
            return f"未登记设备或密钥，记录已隔离留证（{reason_text(ev.get('reason'), 'zh')}）"
        if rule == "SEQUENCE_GAP":
            return f"计量模块序号 {ev['missing_seq']} 缺失（疑似删除）"
        if rule == "DUPLICATE_SEQ":
            return f"序号 {seq} 重复且内容不同（疑似克隆模块）"
        if rule == "METROLOGY_INCONSISTENT":
            return "计量记录自相矛盾：" + "；".join(reason_text(p, "zh") for p in ev.get("problems", []))
        if rule == "TOTALIZER_JUMP":
            return f"累计数跳变 {ev['jump_ml']:+d} mL（上一条序号 {ev['previous_seq']}）"
        if rule == "FLOW_IMPLAUSIBLE":
            return f"流量不合理（最大流量 {ev['max_flow_ml_per_min']} mL/min，用时 {ev['duration_s']:.0f} s）"
        if rule == "K_FACTOR_CHANGE":
            if "k_in_force" in ev:
                return f"K 系数 {ev['k_pulses_per_m3']} 与在用值 {ev['k_in_force']} 不符（未申报变更）"
            return "K 系数变更前后 2 小时内无检定"
        if rule == "SEAL_BREACH":
            event = _g(ev, "event", "event")
            name = EVENT_NAMES[event][0] if isinstance(event, str) and event in EVENT_NAMES else "模块事件"
            return f"{name}：前后 2 小时内无检定"
        if rule == "UNVERIFIED_USE":
            return f"未经有效检定仍在加油（{reason_text(ev.get('reason'), 'zh')}）"
        if rule == "METER_DRIFT":
            lo, hi = ev["ci95_permille"]
            return f"计量误差 {ev['error_permille']:+.2f}‰（95% 置信区间 {lo:+.2f}…{hi:+.2f}‰）超出 ±3‰"
        if rule == "TANK_LOSS":
            return f"油罐不明损耗 {ev['loss_l_per_h']:.2f} L/h（疑似渗漏）"
        if rule == "STATION_BIAS":
            return "该站计量误差总体偏向经营者一方（NIST 44 号手册“偏向性”）"
        if rule == "CLOCK_AHEAD":
            return f"记录时间 {ev['event_time']} 晚于平台接收时间 {ev['received']}，超出容差，记录已隔离留证"
        if rule == "DATA_OUTAGE":
            what = {"station": "加油站", "tank": "液位仪", "nozzle": "油枪计量模块"}.get(ev["level"], "")
            text = (
                f"{what}在应上报期间停报超过 {ev['outage_after_s'] / 60:g} 分钟（最后数据 {ev['silent_since'][:19]}）"
            )
            resumed = ev.get("resumed")
            if isinstance(resumed, dict):
                text += f"；已恢复，中断 {resumed['outage_s'] / 60:.0f} 分钟"
            return text
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    return f"{RULE_NAMES_ZH[rule]}（详见证据）" if rule in RULE_NAMES_ZH else "报警（详见证据）"
