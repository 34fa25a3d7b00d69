"""The console's words, Chinese first (zh-CN) with English (``?lang=en`` or the
language switch, kept in a cookie)."""

from __future__ import annotations

from anxin.i18n import RULE_NAMES_EN, RULE_NAMES_ZH
from anxin.register.queries import STATUS_ZH as REGISTER_ZH
from anxin.supervision import Refusal
from anxin.supervision.cases import STATUS_NAMES_ZH as CASE_ZH
from anxin.supervision.complaints import CHANNEL_EN, CHANNEL_ZH
from anxin.supervision.complaints import OUTCOME_ZH as COMPLAINT_OUTCOME_ZH
from anxin.supervision.complaints import STATUS_ZH as COMPLAINT_ZH
from anxin.supervision.inspections import CHECKLIST as CHECKLIST_ZH
from anxin.supervision.inspections import CHECKLIST_EN
from anxin.supervision.inspections import KINDS as INSPECTION_KINDS
from anxin.supervision.inspections import STATUS_ZH as INSPECTION_ZH
from anxin.workflow.lifecycle import TransitionError

T: dict[str, tuple[str, str]] = {
    "app": ("安心加油 · 计量监管平台", "anxin · metrology supervision"),
    "overview": ("一网感知", "Overview"),
    "alarms": ("报警处置", "Alarms"),
    "register": ("智慧检定", "Verification"),
    "workorders": ("工单", "Work orders"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "language": ("English", "中文"),
    "stations": ("加油站", "Stations"),
    "stations_online": ("在线加油站", "Stations online"),
    "nozzles_online": ("在线油枪", "Nozzles online"),
    "raised_at": ("报警于", "raised"),
    "sales_today": ("今日加油量", "Dispensed today"),
    "sales_n": ("（{n} 笔）", " ({n} sales)"),
    "yesterday_volume": ("昨日 {v} 升、{n} 笔", "yesterday {v} L, {n} sales"),
    "alarms_open": ("未结报警", "Open alarms"),
    "alarms_closed": ("已结报警", "Closed alarms"),
    "coverage": ("检定覆盖率", "Verification coverage"),
    "pass_rate": ("检定合格率", "Pass rate"),
    "online_rate": ("在线率（近24小时）", "Online rate (last 24 h)"),
    "by_district_online": ("按区县", "by district"),
    "outages_open": ("数据中断（未恢复）", "Outages open"),
    "online_note": (
        "在线率：加油站应报时段（登记的营业时间，未登记则全天）中有数据的时间占比，按平台接收时间计；"
        "加油站停报超过 30 分钟记为数据中断，至数据恢复为止。",
        "Online rate: the share of the stations' expected time (registered opening hours, else the whole day) "
        "with data, on the platform's clock; a station silent for more than 30 min is a data outage until "
        "its data comes again.",
    ),
    "live": ("实时报警", "Live alarms"),
    "map": ("加油站分布", "Stations"),
    "trend": ("趋势", "Trends"),
    "by_district": ("按区县报警数", "Alarms per district"),
    "volume": ("销量（升）", "Volume (L)"),
    "rule": ("规则", "Rule"),
    "severity": ("级别", "Severity"),
    "district": ("区县", "District"),
    "station": ("加油站", "Station"),
    "nozzle": ("油枪", "Nozzle"),
    "status": ("状态", "Status"),
    "time": ("时间", "Time"),
    "message": ("说明", "Message"),
    "filter": ("筛选", "Filter"),
    "all": ("全部", "All"),
    "next": ("下一页", "Next page"),
    "from": ("起", "From"),
    "to": ("止", "To"),
    "evidence": ("证据", "Evidence"),
    "field": ("项目", "Field"),
    "module_seq": ("模块序号", "Module sequence"),
    "follow_up_of": ("复查所针对的检查", "Follow-up of inspection"),
    "draw_by_risk": ("按风险加权", "weighted by risk"),
    "draw_uniform": ("等概率", "uniform"),
    "event_data": ("事件数据", "Event data"),
    "differs": ("不一致", "disagree"),
    "as_sent": ("记录中的其他字段（原样）", "Other fields of the record (as sent)"),
    "metering": ("计量记录（防作弊模块签名）", "Metering record (signed by the module)"),
    "settlement": ("结算记录", "Settlement (sale)"),
    "sig_ok": ("签名验证通过", "Signature verified"),
    "sig_bad": ("签名无效，已隔离", "Signature invalid, quarantined"),
    "history": ("油枪近期记录", "Nozzle history"),
    "actions": ("处置", "Actions"),
    "reason": ("理由", "Reason"),
    "inspector": ("检查员", "Inspector"),
    "due": ("期限", "Due"),
    "result": ("现场结果", "On-site result"),
    "summary": ("案情摘要", "Case summary"),
    "acknowledge": ("确认收到", "Acknowledge"),
    "dispatch": ("派发工单", "Dispatch"),
    "report": ("填报现场结果", "Report on-site result"),
    "confirm": ("确认违法（立案）", "Confirm (open a case)"),
    "dismiss": ("误报关闭", "Close as false alarm"),
    "overdue": ("已逾期", "Overdue"),
    "incident": ("事件", "Incident"),
    "case": ("案件", "Case"),
    "registry": ("登记信息", "Registry"),
    "k_factor": ("K系数", "K factor"),
    "verified_until": ("检定有效期至", "Verified until"),
    "estimate": ("计量误差估计（‰）", "Meter error estimate (‰)"),
    "verifications": ("检定记录", "Verifications"),
    "verdict": ("结论", "Verdict"),
    "passed": ("合格", "Pass"),
    "failed": ("不合格", "Fail"),
    "import_csv": ("导入检定数据（CSV）", "Import verification CSV"),
    "upload": ("上传", "Upload"),
    "certificate": ("检定证书", "Certificate"),
    "due_list": ("到期提醒", "Due list"),
    "qr_sheet": ("打印油枪二维码", "Print nozzle QR codes"),
    "public_title": ("油枪检定信息公开", "Nozzle verification"),
    "complain": ("投诉举报", "Report a problem"),
    "complaint_text": ("您遇到的问题", "What happened"),
    "contact": ("联系方式（可选）", "Contact (optional)"),
    "send": ("提交", "Send"),
    "thanks": ("已收到，谢谢。监管部门将核查处理。", "Received, thank you. The regulator will look into it."),
    "not_allowed": ("无权访问", "Not allowed"),
    "not_found": ("未找到", "Not found"),
    "new": ("新报警", "New"),
    "acknowledged": ("已确认", "Acknowledged"),
    "dispatched": ("已派单", "Dispatched"),
    "on_site": ("已到场", "On site"),
    "confirmed": ("已立案", "Confirmed"),
    "false_alarm": ("误报", "False alarm"),
    "open": ("未结", "Open"),
    "critical": ("严重", "Critical"),
    "major": ("重要", "Major"),
    "minor": ("一般", "Minor"),
    "enter_verification": ("录入检定结果", "Enter a verification"),
    "vtype": ("检定类型", "Type"),
    "vt_periodic": ("周期检定", "Periodic"),
    "vt_initial": ("首次检定", "Initial"),
    "vt_after_repair": ("修理后检定", "After repair"),
    "org": ("检定机构", "Institute"),
    "runs": ("检定数据（每个流量点三次）", "Runs (three per flow rate)"),
    "flow": ("流量 mL/min", "Flow mL/min"),
    "standard": ("标准器体积 mL", "Standard mL"),
    "indicated": ("加油机示值 mL", "Indicated mL"),
    "t_standard": ("标准器温度 m℃", "Standard temp m°C"),
    "t_dispenser": ("加油机温度 m℃", "Dispenser temp m°C"),
    "save": ("保存", "Save"),
    "runs_needed": ("至少需要一次检定数据", "At least one run is needed"),
    "audit": ("审计日志", "Audit log"),
    "chain_ok": ("审计链完整", "Audit chain intact"),
    "chain_bad": ("审计链被篡改", "Audit chain broken"),
    "actor": ("操作人", "Who"),
    "what": ("操作", "What"),
    "events": ("防作弊模块事件（铅封、K系数）", "Module events (seals, K factor)"),
    "event": ("事件", "Event"),
    "dispenser": ("加油机", "Dispenser"),
    "tank": ("油罐", "Tank"),
    "product": ("油品", "Product"),
    "anti_cheat": ("防作弊加油机", "Anti-cheat"),
    "key": ("签名密钥", "Signing key"),
    "operator": ("经营单位", "Operator"),
    "latlon": ("经纬度", "Lat/lon"),
    "lon": ("经度", "Longitude"),
    "lat": ("纬度", "Latitude"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "complaints": ("投诉举报", "Complaints"),
    "inspections": ("检查", "Inspections"),
    "cases": ("案件", "Cases"),
    "risk": ("双随机抽查", "Risk-based draw"),
    "oversight": ("纪检监察", "Oversight"),
    "statistics": ("统计报表", "Statistics"),
    "received": ("收到", "Received"),
    "assignee": ("承办人", "Assigned to"),
    "deadline": ("办理期限", "Deadline"),
    "links": ("关联记录", "Linked records"),
    "attachments": ("附件", "Attachments"),
    "outcome": ("办理结果", "Outcome"),
    "assign": ("分派", "Assign"),
    "investigate": ("记录调查", "Add an investigation note"),
    "reply": ("答复投诉人", "Reply"),
    "close": ("办结", "Close"),
    "note": ("说明", "Note"),
    "kind": ("类型", "Kind"),
    "scheduled": ("计划时间", "Scheduled"),
    "plan_inspection": ("安排检查", "Schedule an inspection"),
    "visit": ("登记检查结果", "Record the visit"),
    "checklist": ("检查项", "Checklist"),
    "test_fill": ("测试加油（标准量器）", "Test fill (standard measure)"),
    "findings": ("检查发现", "Findings"),
    "rectifications": ("整改单", "Rectification orders"),
    "citizen_requests": ("你点我检申请", "Citizen-chosen inspections"),
    "request_inspection": ("你点我检：请检查这支油枪", "Ask for this nozzle to be inspected"),
    "order_ref": ("订单号（可选）", "Order number (optional)"),
    "when_happened": ("加油时间（可选）", "When (optional)"),
    "files": ("照片或票据（可选）", "Photos or receipts (optional)"),
    "parties": ("当事人", "Parties"),
    "violations": ("违法行为", "Violations"),
    "penalty": ("罚没", "Penalty"),
    "decision": ("处罚决定", "Decision"),
    "penalty_yuan": ("罚款（元）", "Fine (yuan)"),
    "boards": ("没收主板（块）", "Boards confiscated"),
    "bundle": ("下载证据包", "Download the evidence bundle"),
    "score": ("风险分", "Risk score"),
    "why": ("构成", "Why"),
    "seed": ("随机种子", "Seed"),
    "draw": ("抽取", "Draw"),
    "method": ("方式", "Method"),
    "count": ("数量", "How many"),
    "period": ("统计期", "Period"),
    "export": ("导出", "Export"),
    "role": ("角色", "Role"),
    "name": ("名称", "Name"),
    "id_no": ("证件号", "ID number"),
    "code": ("条款", "Code"),
    "source": ("来源", "Source"),
    "yes_ok": ("合格", "OK"),
    "no_fail": ("不合格", "Fail"),
    "station_select": ("加油站", "Station"),
    "open_case": ("立案", "Open a case"),
    "users": ("用户管理", "Users"),
    "new_user": ("新建账号", "New account"),
    "reset_password": ("重置密码", "Reset password"),
    "deactivate": ("停用", "Deactivate"),
    "inactive": ("已停用", "Inactive"),
    "throttled": ("登录限速中", "Login throttled"),
    # console hardening and the public channels (issue 11)
    "bad_request": ("请求有误", "Bad request"),
    "bad_value": ("无法使用的值", "cannot use the value"),
    "login_refused": (
        "用户名或密码错误，或尝试过于频繁，请稍后再试",
        "Wrong username or password, or too many attempts: try again later",
    ),
    "form_expired": (
        "页面已过期或不是从本站提交的：请刷新页面后重新提交",
        "This page has expired, or the form was not sent from this site: reload it and send again",
    ),
    "pub_too_many": (
        "提交过于频繁，请稍后再试；如有急事请拨打 12315",
        "Too many submissions from your network: please try again later, or call 12315",
    ),
    "pub_target_full": (
        "这支油枪今天已收到大量反映，监管部门会逐一处理；如需补充，请拨打 12315",
        "This nozzle has had very many reports today; the regulator handles each one. To add to them, call 12315",
    ),
    "pub_challenge": (
        "近期提交较多，需要您的浏览器先完成一次自动验证计算（几秒钟）：请再次点击提交（如有照片请重新选择）",
        "Many submissions lately: your browser has to do a short check first (a few seconds). "
        "Press send again (and choose the photos again, if any)",
    ),
    "pub_challenge_failed": (
        "验证未通过或已过期：请再次点击提交（如有照片请重新选择）",
        "The check failed or expired: press send again (and choose the photos again, if any)",
    ),
    "pub_nojs": (
        "本次提交需要浏览器完成一次自动验证计算，请开启 JavaScript 后重试；也可拨打 12315 热线反映",
        "This submission needs a short check done by the browser: turn JavaScript on and try again, "
        "or call the 12315 hotline",
    ),
    "pub_working": ("正在验证，请稍候…", "Checking, one moment…"),
    "pub_too_large": (
        "附件过大或过多：最多 5 个，每个不超过 5 MB，合计不超过 10 MB（JPEG、PNG 照片或 PDF）",
        "Too many or too large files: at most 5, each up to 5 MB, 10 MB in all (JPEG or PNG photos, or PDF)",
    ),
    "pub_quota": (
        "今天从您的网络上传的附件已达上限：请不带附件提交，或明天再试",
        "The files sent from your network today reached the limit: send without files, or try tomorrow",
    ),
    "files_hint": (
        "最多 5 个，JPEG、PNG 照片或 PDF，每个不超过 5 MB",
        "At most 5: JPEG or PNG photos, or PDF, 5 MB each",
    ),
    "triage": ("研判", "Triage"),
    "triage_note": ("研判依据", "Grounds"),
    "plausible": ("可信（计入风险评分）", "Plausible (counts in the risk score)"),
    "implausible": ("不可信（不计入）", "Not plausible (does not count)"),
    "untriaged": ("待研判（不计入风险评分）", "Not triaged (does not count in the risk score)"),
    "ok": ("正常", "OK"),
    "line": ("行", "line"),
    "accepted": ("接收", "accepted"),
    "duplicate": ("重复", "duplicate"),
    "last_result": ("最近检定结果", "Last result"),
    "sent_by": ("报送方", "Sent by"),
    "public_inspections": ("监督检查（已完成）", "Inspections (done)"),
    "inspection_kind_routine": ("日常检查", "Routine"),
    "inspection_kind_unannounced": ("四不两直", "Unannounced"),
    "inspection_kind_citizen": ("你点我检", "Citizen-chosen"),
    "inspection_kind_follow_up": ("复查", "Follow-up"),
    "inspection_all_ok": ("各项合格", "All in order"),
    "inspection_findings": ("发现问题（项）", "Findings"),
    "sent_by_institute": ("检定机构", "Verification institute"),
    "sent_by_console": ("监管端录入", "Entered by"),
    "sent_by_regulator": ("监管部门录入", "Entered by the regulator"),
    "sent_by_import": ("数据导入", "Data import"),
    "sent_by_registry": ("登记信息", "Registry"),
    "sent_by_station_refused": ("加油站自行上传（已拒收，不算检定）", "The station itself (refused)"),
    "error": ("误差", "Error"),
    # the tank witness (油罐见证) on the nozzle and station pages
    "est_error": ("误差（‰）", "Error (‰)"),
    "est_interval": ("95% 置信区间（‰）", "95 % interval (‰)"),
    "est_dispensings": ("加油笔数", "Dispensings"),
    "est_as_of": ("估计时间", "As of"),
    "est_band": ("95% 置信区间", "95 % interval"),
    "est_target": ("目标 ±2‰", "target ±2‰"),
    "est_limit": ("法定限 ±3‰", "limit ±3‰"),
    "est_none": ("尚无估计（数据不足）", "No estimate yet (not enough data)"),
    "est_looks": ("各次估计", "Estimates, look by look"),
    "est_note": (
        "油罐见证：每日零时用该罐近 30 天的液位、进油与加油数据估计各枪计量误差；"
        "区间为 95% 置信区间，目标 ±2‰，法定最大允许误差 ±3‰。",
        "The tank witness: every local midnight, each nozzle's meter error from the last 30 days of its tank's "
        "levels, deliveries and dispensings; the band is the 95 % interval, against the ±2‰ target and the "
        "±3‰ national limit.",
    ),
    "tank_pooled": ("罐合计误差（‰）", "Tank pooled error (‰)"),
    "tank_witness": ("油罐见证", "Tank witness"),
    "tank_loss": ("不明损耗（升/小时）", "Unexplained loss (L/h)"),
    "tank_leak": ("渗漏判定", "Leak test"),
    "tank_anchored": ("容积表比例由进油单锚定", "Chart scale anchored by delivery notes"),
    "tank_register": ("检定记录锚定", "Verification register anchor"),
    "register_none": ("无检定记录", "no verified nozzle"),
    "register_of": (
        "{n} 支油枪的检定误差一致；进油单共同偏差修正 {shift}‰",
        "{n} nozzles' verified errors agree; the notes' common bias corrected by {shift}‰",
    ),
    "tank_deliveries": ("进油（其中与油罐数据矛盾）", "Deliveries (of which contradicted by the tank)"),
    "tank_hours": ("数据时长（小时）", "Hours of data"),
    "tank_residual": ("残差标准差（毫升）", "Residual SD (mL)"),
    "chart_correction": ("容积表修正（毫升，按液位）", "Chart correction (mL by level)"),
    "chart_correction_none": ("尚未从数据中得出容积表修正", "No chart correction learnt from the data yet"),
    "chart_csv": ("下载修正后的容积表（CSV）", "Download the corrected chart (CSV)"),
    "csv_level": ("液位（微米）", "Level (µm)"),
    "csv_registered": ("登记容积（毫升）", "Registered volume (mL)"),
    "csv_correction": ("修正（毫升）", "Correction (mL)"),
    "csv_corrected": ("修正后容积（毫升）", "Corrected volume (mL)"),
    "level_mm": ("液位（毫米）", "Level (mm)"),
    "correction_ml": ("修正（毫升）", "Correction (mL)"),
    # words that were written into the pages and views (issue 13: the English twin)
    "skip_to_content": ("跳到正文", "Skip to content"),
    "main_nav": ("主导航", "Main"),
    "yuan": ("元", "yuan"),
    "order_no": ("订单号", "Order number"),
    "draw_default_name": ("双随机抽查", "Random inspection draw"),
    "stats_opened": ("收到/发出/立案/报警", "received/issued/opened/raised"),
    "stats_closed": ("办结/关闭", "closed"),
    "pub_valid": ("检定合格，在有效期内", "Verified, within its validity"),
    "pub_failed": ("最近一次检定不合格", "Failed its last verification"),
    "pub_expired": ("检定已过期", "Verification expired"),
    "cannot_deactivate_self": ("不能停用自己的账号", "you cannot deactivate yourself"),
    "risk_sep": ("；", "; "),
    "colon": ("：", ": "),
    "paren_open": ("（", " ("),
    "paren_close": ("）", ")"),
    "fine": ("罚款", "Fine"),
    "seq_no": ("第 {n} 笔", "no. {n}"),
    "l_per_min": ("升/分钟", "L/min"),
    "system_actor": ("系统", "system"),
    "recent_dispensings": ("近期加油记录", "Recent dispensings"),
    "recent_dispensings_note": (
        "最近 20 笔计量记录与对应的结算记录；体积相差超过 10 毫升、或无对应记录的行标红。",
        "The last 20 metering records beside the sales they were settled as; rows whose volumes differ by more than 10 mL, or with no counterpart, are marked.",
    ),
    "metered_volume": ("计量体积", "Metered"),
    "settled_volume": ("结算体积", "Settled"),
    "unit_price": ("单价", "Unit price"),
    "amount_due": ("应收", "Amount"),
    "amount_paid": ("实付", "Paid"),
    "payment_method": ("支付方式", "Payment"),
    "volume_difference": ("体积差", "Difference"),
    "signature": ("签名", "Signature"),
    "signature_ok": ("有效", "valid"),
    "signature_bad": ("无效", "invalid"),
    "boards_taken": ("没收作弊主板 {n} 块", "{n} rigged board(s) confiscated"),
}

# An inspection's checklist items, in the supervision package's words.
CHECKLIST: dict[str, tuple[str, str]] = {k: (zh, CHECKLIST_EN.get(k, zh)) for k, zh in CHECKLIST_ZH.items()}


# Each lifecycle's states in words (a raw state — "received", "decided" — on a Chinese
# page was issue 13's finding). The Chinese words are the domain packages' own (their
# refusals name the states in the same words); English is the state, spelled out.
def _words(zh: dict[str, str], en: dict[str, str] | None = None) -> dict[str, tuple[str, str]]:
    return {s: (w, (en or {}).get(s, s.replace("_", " "))) for s, w in zh.items()}


STATES: dict[str, dict[str, tuple[str, str]]] = {
    "complaint": _words(COMPLAINT_ZH),
    "inspection": _words(INSPECTION_ZH),
    "inspection_kind": {k: T[f"inspection_kind_{k}"] for k in INSPECTION_KINDS},  # the public page's words
    "request": _words({"requested": "待安排", "scheduled": "已安排", "planned": "已安排", "done": "已检查"}),
    "case": _words(CASE_ZH),
    "workorder": _words({"open": "办理中", "reported": "已回报", "closed": "已办结"}),
    "rectification": _words({"open": "待整改", "closed": "已整改", "done": "已整改"}),
    "register": _words(REGISTER_ZH, {"never": "never verified"}),
    "complaint_outcome": _words(COMPLAINT_OUTCOME_ZH),
    "complaint_channel": _words(CHANNEL_ZH, CHANNEL_EN),
    "alarm": {s: T[s] for s in ("new", "acknowledged", "dispatched", "on_site", "confirmed", "false_alarm")},
    "severity": {s: T[s] for s in ("critical", "major", "minor")},
}
CASE_SOURCES: dict[str, tuple[str, str]] = {
    "alarm": ("报警", "alarm"),
    "complaint": ("投诉", "complaint"),
    "inspection": ("检查", "inspection"),
    "metering": ("计量记录", "metering record"),  # a complaint's linked records
    "settlement": ("销售记录", "sale"),
}


# What the audit log records, in words (an action no catalog names is shown as written:
# it is the log's own record).
AUDIT_ACTIONS: dict[str, tuple[str, str]] = {
    "login.success": ("登录", "signed in"),
    "login.failure": ("登录失败", "failed sign-in"),
    "user.create": ("新建账号", "account created"),
    "user.password": ("重置密码", "password reset"),
    "user.deactivate": ("停用账号", "account deactivated"),
    "token.issue": ("签发令牌", "token issued"),
    "token.revoke": ("吊销令牌", "token revoked"),
    "registry.change": ("登记信息变更", "registry changed"),
    "verification.enter": ("录入检定结果", "verification entered"),
    "verification.import": ("导入检定数据", "verifications imported"),
    "alarm.acknowledge": ("报警确认接收", "alarm acknowledged"),
    "alarm.dispatch": ("派发核查工单", "inspector dispatched"),
    "alarm.report": ("现场核查回报", "on-site report"),
    "alarm.confirm": ("报警属实", "alarm confirmed"),
    "alarm.false_alarm": ("误报", "false alarm"),
    "alarm.close": ("报警办结", "alarm closed"),
    "complaint.submit": ("收到投诉", "complaint received"),
    "complaint.triage": ("投诉研判", "complaint triaged"),
    "complaint.link": ("投诉关联记录", "complaint linked"),
    "complaint.assign": ("投诉分派", "complaint assigned"),
    "complaint.investigate": ("投诉调查", "complaint investigated"),
    "complaint.reply": ("投诉答复", "complaint answered"),
    "complaint.close": ("投诉办结", "complaint closed"),
    "citizen_request.create": ("收到你点我检申请", "citizen request received"),
    "inspection.draw": ("双随机抽取", "random draw"),
    "inspection.schedule": ("安排检查", "inspection scheduled"),
    "inspection.visit": ("登记检查结果", "inspection recorded"),
    "case.open": ("立案", "case opened"),
    "case.update": ("案件信息更新", "case updated"),
    "case.penalize": ("作出处罚决定", "penalty decided"),
    "case.close": ("结案", "case closed"),
    "case.bundle_export": ("导出证据包", "evidence bundle exported"),
}
SUBJECTS: dict[str, tuple[str, str]] = {
    "user": ("账号", "account"),
    "registry": ("登记信息", "registry"),
    "citizen_request": ("你点我检申请", "citizen request"),
    "inspection_plan": ("抽查计划", "draw"),
    "case": ("案件", "case"),
    "token": ("令牌", "token"),
    "nozzle": ("油枪", "nozzle"),
    "station": ("加油站", "station"),
    **CASE_SOURCES,
}


# Reasons the platform itself writes into the audit log (a person's are shown as typed;
# the log's entries are never rewritten, so the words are chosen when read).
AUDIT_REASONS: dict[str, tuple[str, str]] = {
    "login": ("登录", "login"),
    "demo accounts": ("演示账号", "demo accounts"),
    "demo city": ("演示城市", "demo city"),
    "evidence bundle downloaded": ("下载证据包", "evidence bundle downloaded"),
    "entered by hand": ("手工录入", "entered by hand"),
}


def audit_reason(reason: str | None, lang: str) -> str:
    entry = AUDIT_REASONS.get(reason or "")
    return (reason or "") if entry is None else entry[0 if lang == "zh" else 1]


def audit_action(action: str, lang: str) -> str:
    entry = AUDIT_ACTIONS.get(action)
    return action if entry is None else entry[0 if lang == "zh" else 1]


def _reference(value: str | None, names: dict[str, tuple[str, str]], lang: str, mark: str) -> str | None:
    """``kind:ref`` with the kind in words (None when the kind has none)."""
    kind, _, ref = (value or "").partition(":")
    entry = names.get(kind)
    if entry is None:
        return None
    word = entry[0 if lang == "zh" else 1]
    return f"{word} {mark}{ref}" if ref else word


def audit_subject(subject: str, lang: str) -> str:
    has_ref = bool((subject or "").partition(":")[2])
    return (_reference(subject, SUBJECTS, lang, "") if has_ref else None) or subject


# why an alarm triage step was refused (workflow.lifecycle.TransitionError.problem)
TRIAGE_REFUSED: dict[str, tuple[str, str]] = {
    "not_allowed": ("报警当前为「{status}」，不能{action}", "The alarm is {status}: “{action}” is not possible now"),
    "closed": ("报警已办结（{status}），不能再{action}", "The alarm is closed ({status}): “{action}” is not possible"),
    "no_reason": ("误报关闭须说明理由", "Closing as a false alarm needs a reason"),
    "no_inspector": ("派发工单须指定检查人员", "A work order needs an inspector"),
    "due_past": ("工单期限须晚于现在", "The work order's due time must be in the future"),
    "no_result": ("现场结果不能为空", "The on-site result is empty"),
    "no_summary": ("立案须填写案情摘要", "Opening a case needs a summary"),
}


def refusal_text(exc: Exception, lang: str) -> str:
    """A refused step in the reader's language: the supervision package's refusals word
    themselves, an alarm triage refusal is worded here; anything else as it came."""
    if isinstance(exc, Refusal):
        return exc.text(lang)
    if isinstance(exc, TransitionError) and exc.problem in TRIAGE_REFUSED:
        i = 0 if lang == "zh" else 1
        return TRIAGE_REFUSED[exc.problem][i].format(
            status=state_word("alarm", exc.status, lang), action=T[exc.action][i] if exc.action in T else exc.action
        )
    return str(exc)


def state_word(group: str, state: str | None, lang: str) -> str:
    """A lifecycle state in words; one the catalog lacks is shown as it is in English and
    as a dash in Chinese (never a raw code on a Chinese page)."""
    if not state:
        return "—"
    entry = STATES.get(group, {}).get(state)
    if entry is None:
        return "—" if lang == "zh" else state
    return entry[0 if lang == "zh" else 1]


def case_source(source: str | None, lang: str) -> str:
    """A case's source (``alarm:<id>``, ``complaint:<id>``, ``inspection:<id>``) in words."""
    return _reference(source, CASE_SOURCES, lang, "#") or source or "—"


def words(lang: str) -> dict[str, str]:
    i = 0 if lang == "zh" else 1
    return {k: v[i] for k, v in T.items()}


def rule_label(rule: str, lang: str) -> str:
    return (RULE_NAMES_ZH if lang == "zh" else RULE_NAMES_EN).get(rule, rule)


def checklist_label(item: str, lang: str) -> str:
    """An inspection's checklist item in words (one the supervision package does not name: its code)."""
    entry = CHECKLIST.get(item)
    return item if entry is None else entry[0 if lang == "zh" else 1]
