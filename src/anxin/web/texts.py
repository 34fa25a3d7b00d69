"""The console's words, Chinese first (zh-CN) with English (``?lang=en`` or the
language switch, kept in a cookie)."""

from __future__ import annotations

from anxin.i18n import RULE_NAMES_ZH

T: dict[str, tuple[str, str]] = {
    "app": ("安心加油 · 计量监管平台", "anxin · metrology supervision"),
    "overview": ("一网感知", "Overview"), "alarms": ("报警处置", "Alarms"), "register": ("智慧检定", "Verification"),
    "workorders": ("工单", "Work orders"), "login": ("登录", "Log in"), "logout": ("退出", "Log out"),
    "username": ("用户名", "Username"), "password": ("密码", "Password"), "language": ("English", "中文"),
    "stations": ("加油站", "Stations"), "stations_online": ("在线加油站", "Stations online"),
    "nozzles_online": ("在线油枪", "Nozzles online"), "sales_today": ("今日销量", "Sales today"),
    "alarms_open": ("未结报警", "Open alarms"), "alarms_closed": ("已结报警", "Closed alarms"),
    "coverage": ("检定覆盖率", "Verification coverage"), "pass_rate": ("检定合格率", "Pass rate"),
    "live": ("实时报警", "Live alarms"), "map": ("加油站分布", "Stations"), "trend": ("趋势", "Trends"),
    "by_district": ("按区县报警数", "Alarms per district"), "volume": ("销量（升）", "Volume (L)"),
    "rule": ("规则", "Rule"), "severity": ("级别", "Severity"), "district": ("区县", "District"),
    "station": ("加油站", "Station"), "nozzle": ("油枪", "Nozzle"), "status": ("状态", "Status"),
    "time": ("时间", "Time"), "message": ("说明", "Message"), "filter": ("筛选", "Filter"), "all": ("全部", "All"),
    "next": ("下一页", "Next page"), "from": ("起", "From"), "to": ("止", "To"), "evidence": ("证据", "Evidence"),
    "metering": ("计量记录（防作弊模块签名）", "Metering record (signed by the module)"),
    "settlement": ("结算记录", "Settlement (sale)"), "sig_ok": ("签名验证通过", "Signature verified"),
    "sig_bad": ("签名无效，已隔离", "Signature invalid, quarantined"), "history": ("油枪近期记录", "Nozzle history"),
    "actions": ("处置", "Actions"), "reason": ("理由", "Reason"), "inspector": ("检查员", "Inspector"),
    "due": ("期限", "Due"), "result": ("现场结果", "On-site result"), "summary": ("案情摘要", "Case summary"),
    "acknowledge": ("确认收到", "Acknowledge"), "dispatch": ("派发工单", "Dispatch"),
    "report": ("填报现场结果", "Report on-site result"), "confirm": ("确认违法（立案）", "Confirm (open a case)"),
    "dismiss": ("误报关闭", "Close as false alarm"), "overdue": ("已逾期", "Overdue"),
    "incident": ("事件", "Incident"), "case": ("案件", "Case"), "registry": ("登记信息", "Registry"),
    "k_factor": ("K系数", "K factor"), "verified_until": ("检定有效期至", "Verified until"),
    "estimate": ("计量误差估计（‰）", "Meter error estimate (‰)"), "verifications": ("检定记录", "Verifications"),
    "verdict": ("结论", "Verdict"), "passed": ("合格", "Pass"), "failed": ("不合格", "Fail"),
    "import_csv": ("导入检定数据（CSV）", "Import verification CSV"), "upload": ("上传", "Upload"),
    "certificate": ("检定证书", "Certificate"), "due_list": ("到期提醒", "Due list"),
    "qr_sheet": ("打印油枪二维码", "Print nozzle QR codes"), "public_title": ("油枪检定信息公开", "Nozzle verification"),
    "complain": ("投诉举报", "Report a problem"), "complaint_text": ("您遇到的问题", "What happened"),
    "contact": ("联系方式（可选）", "Contact (optional)"), "send": ("提交", "Send"),
    "thanks": ("已收到，谢谢。监管部门将核查处理。", "Received, thank you. The regulator will look into it."),
    "not_allowed": ("无权访问", "Not allowed"), "not_found": ("未找到", "Not found"),
    "new": ("新报警", "New"), "acknowledged": ("已确认", "Acknowledged"), "dispatched": ("已派单", "Dispatched"),
    "on_site": ("已到场", "On site"), "confirmed": ("已立案", "Confirmed"), "false_alarm": ("误报", "False alarm"),
    "open": ("未结", "Open"), "critical": ("严重", "Critical"), "major": ("重要", "Major"), "minor": ("一般", "Minor"),
    "enter_verification": ("录入检定结果", "Enter a verification"), "vtype": ("检定类型", "Type"),
    "vt_periodic": ("周期检定", "Periodic"), "vt_initial": ("首次检定", "Initial"), "vt_after_repair": ("修理后检定", "After repair"),
    "org": ("检定机构", "Institute"), "runs": ("检定数据（每个流量点三次）", "Runs (three per flow rate)"),
    "flow": ("流量 mL/min", "Flow mL/min"), "standard": ("标准器体积 mL", "Standard mL"), "indicated": ("加油机示值 mL", "Indicated mL"),
    "t_standard": ("标准器温度 m℃", "Standard temp m°C"), "t_dispenser": ("加油机温度 m℃", "Dispenser temp m°C"),
    "save": ("保存", "Save"), "runs_needed": ("至少需要一次检定数据", "At least one run is needed"),
    "audit": ("审计日志", "Audit log"), "chain_ok": ("审计链完整", "Audit chain intact"),
    "chain_bad": ("审计链被篡改", "Audit chain broken"), "actor": ("操作人", "Who"), "what": ("操作", "What"),
    "events": ("防作弊模块事件（铅封、K系数）", "Module events (seals, K factor)"), "event": ("事件", "Event"),
    "dispenser": ("加油机", "Dispenser"), "tank": ("油罐", "Tank"), "product": ("油品", "Product"),
    "anti_cheat": ("防作弊加油机", "Anti-cheat"), "key": ("签名密钥", "Signing key"), "operator": ("经营单位", "Operator"),
    "latlon": ("经纬度", "Lat/lon"), "yes": ("是", "yes"), "no": ("否", "no"),
    "complaints": ("投诉举报", "Complaints"), "inspections": ("检查", "Inspections"), "cases": ("案件", "Cases"),
    "risk": ("双随机抽查", "Risk-based draw"), "oversight": ("纪检监察", "Oversight"), "statistics": ("统计报表", "Statistics"),
    "received": ("收到", "Received"), "assignee": ("承办人", "Assigned to"), "deadline": ("办理期限", "Deadline"),
    "links": ("关联记录", "Linked records"), "attachments": ("附件", "Attachments"), "outcome": ("办理结果", "Outcome"),
    "assign": ("分派", "Assign"), "investigate": ("记录调查", "Add an investigation note"), "reply": ("答复投诉人", "Reply"),
    "close": ("办结", "Close"), "note": ("说明", "Note"), "kind": ("类型", "Kind"), "scheduled": ("计划时间", "Scheduled"),
    "plan_inspection": ("安排检查", "Schedule an inspection"), "visit": ("登记检查结果", "Record the visit"),
    "checklist": ("检查项", "Checklist"), "test_fill": ("测试加油（标准量器）", "Test fill (standard measure)"),
    "findings": ("检查发现", "Findings"), "rectifications": ("整改单", "Rectification orders"),
    "citizen_requests": ("你点我检申请", "Citizen-chosen inspections"), "request_inspection": ("你点我检：请检查这支油枪", "Ask for this nozzle to be inspected"),
    "order_ref": ("订单号（可选）", "Order number (optional)"), "when_happened": ("加油时间（可选）", "When (optional)"),
    "files": ("照片或票据（可选）", "Photos or receipts (optional)"), "parties": ("当事人", "Parties"),
    "violations": ("违法行为", "Violations"), "penalty": ("罚没", "Penalty"), "decision": ("处罚决定", "Decision"),
    "penalty_yuan": ("罚款（元）", "Fine (yuan)"), "boards": ("没收主板（块）", "Boards confiscated"),
    "bundle": ("下载证据包", "Download the evidence bundle"), "score": ("风险分", "Risk score"), "why": ("构成", "Why"),
    "seed": ("随机种子", "Seed"), "draw": ("抽取", "Draw"), "method": ("方式", "Method"), "count": ("数量", "How many"),
    "period": ("统计期", "Period"), "export": ("导出", "Export"), "role": ("角色", "Role"), "name": ("名称", "Name"),
    "id_no": ("证件号", "ID number"), "code": ("条款", "Code"), "source": ("来源", "Source"), "yes_ok": ("合格", "OK"),
    "no_fail": ("不合格", "Fail"), "station_select": ("加油站", "Station"),
    "open_case": ("立案", "Open a case"), "users": ("用户管理", "Users"), "new_user": ("新建账号", "New account"),
    "reset_password": ("重置密码", "Reset password"), "deactivate": ("停用", "Deactivate"), "inactive": ("已停用", "Inactive"),
    "locked": ("已锁定", "Locked"),
    "ok": ("正常", "OK"), "line": ("行", "line"), "accepted": ("接收", "accepted"), "duplicate": ("重复", "duplicate"), "last_result": ("最近检定结果", "Last result"), "error": ("误差", "Error"),
}


def words(lang: str) -> dict[str, str]:
    i = 0 if lang == "zh" else 1
    return {k: v[i] for k, v in T.items()}


def rule_label(rule: str, lang: str) -> str:
    return RULE_NAMES_ZH.get(rule, rule) if lang == "zh" else rule
