/* Bilingual labels (English / 中文). Elements with data-i18n="key" get their text from the table;
   MG.t(key) returns the label in the current language. The choice is kept in localStorage. */
(function () {
  "use strict";
  var T = {
    "app.title": ["Park microgrid", "园区微电网"],
    "nav.overview": ["Overview", "总览"],
    "nav.plan": ["Plan vs actual", "计划与实际"],
    "nav.green": ["Green power & CO₂", "绿电与碳排"],
    "nav.events": ["Events", "事件告警"],
    "nav.control": ["Override", "人工干预"],
    "nav.logout": ["Log out", "退出"],
    "footer.signs": ["Signs: power into the park bus is positive (PV, discharge, grid import); loads are shown as consumption.",
                     "符号约定：流入园区母线为正（光伏、放电、电网购电）；负荷按用电量显示。"],
    "login.title": ["Sign in", "登录"],
    "login.hint": ["Paste your API token (from `microgrid users add NAME --role ROLE`).", "请粘贴 API 令牌（由 `microgrid users add` 生成）。"],
    "login.token": ["Token", "令牌"],
    "login.submit": ["Sign in", "登录"],
    "login.failed": ["Sign-in failed", "登录失败"],
    "forbidden.title": ["Operators only", "仅限运行人员"],
    "forbidden.text": ["Your role may view the park but not change it. Ask an admin for an operator token.",
                       "您的角色只能查看，不能操作。请向管理员申请运行人员令牌。"],
    "tile.pcc": ["Grid (PCC)", "并网点功率"],
    "tile.pv": ["PV output", "光伏出力"],
    "tile.storage": ["Storage", "储能"],
    "tile.consumption": ["Consumption", "园区用电"],
    "tile.alarms": ["Active alarms", "未确认告警"],
    "tile.plan": ["Plan", "计划"],
    "tile.import": ["import", "购电"],
    "tile.export": ["export", "上网"],
    "tile.discharge": ["discharging", "放电"],
    "tile.charge": ["charging", "充电"],
    "tile.idle": ["idle", "待机"],
    "tile.cycle": ["control cycle", "控制周期"],
    "tile.limit": ["cap", "上限"],
    "overview.flows": ["Power flows per tenant (kW)", "各企业功率（kW）"],
    "overview.alarms": ["Alarms", "告警"],
    "overview.assets": ["Assets", "设备"],
    "overview.no_alarms": ["No unacknowledged alarms", "无未确认告警"],
    "flow.meter": ["Tenant meter (net draw)", "企业关口表（净用电）"],
    "flow.pv": ["PV", "光伏"],
    "flow.storage": ["Storage", "储能"],
    "flow.flexible": ["Heat pumps, flexible loads, EV", "热泵/柔性负荷/充电"],
    "col.asset": ["Asset", "设备"], "col.kind": ["Kind", "类型"], "col.tenant": ["Tenant", "企业"],
    "col.p_kw": ["Power kW", "功率 kW"], "col.planned_kw": ["Plan kW", "计划 kW"],
    "col.setpoint_kw": ["Setpoint kW", "设定值 kW"], "col.state": ["SoC / tank", "SoC / 水箱"],
    "col.health": ["Health", "通信状态"], "col.override": ["Override", "人工干预"],
    "col.time": ["Time", "时间"], "col.severity": ["Severity", "级别"], "col.source": ["Source", "来源"],
    "col.message": ["Message", "内容"], "col.ack": ["Acknowledged", "确认"],
    "kind.pv": ["PV", "光伏"], "kind.battery": ["Storage", "储能"], "kind.heat_pump": ["Heat pump", "热泵"],
    "kind.deferrable": ["Deferrable load", "可延迟负荷"], "kind.shiftable": ["Shiftable load", "可平移负荷"],
    "kind.curtailable": ["Curtailable load", "可削减负荷"], "kind.ev_depot": ["EV depot", "充电站"],
    "kind.load": ["Base load", "基础负荷"],
    "plan.title": ["Plan vs actual", "计划与实际"],
    "plan.day": ["Day", "日期"],
    "plan.power": ["Power (kW): planned sources and loads stacked, measured as lines; background = TOU price",
                   "功率（kW）：计划电源与负荷堆叠，实测为曲线；背景为分时电价"],
    "plan.soc": ["Storage state of charge (%)", "储能荷电状态（%）"],
    "plan.tank": ["Heat-pump tanks (kWh thermal)", "热泵水箱蓄热（kWh热）"],
    "plan.kpis": ["Plan key figures", "计划指标"],
    "plan.no_plan": ["No plan for this day", "该日无计划"],
    "plan.version": ["version", "版本"],
    "series.pv": ["PV (plan)", "光伏（计划）"],
    "series.discharge": ["Storage discharge (plan)", "储能放电（计划）"],
    "series.import": ["Grid import (plan)", "电网购电（计划）"],
    "series.charge": ["Storage charge (plan)", "储能充电（计划）"],
    "series.export": ["Export (plan)", "上网（计划）"],
    "series.base": ["Base loads (plan)", "基础负荷（计划）"],
    "series.hp": ["Heat pumps (plan)", "热泵（计划）"],
    "series.flex": ["Flexible loads & EV (plan)", "柔性负荷与充电（计划）"],
    "series.grid_actual": ["Grid, measured", "并网点实测"],
    "series.pv_actual": ["PV, measured", "光伏实测"],
    "series.grid_plan": ["Grid, plan", "并网点计划"],
    "series.plan": ["plan", "计划"], "series.actual": ["measured", "实测"],
    "band.valley": ["valley", "谷"], "band.flat": ["flat", "平"], "band.peak": ["peak", "峰"], "band.critical": ["critical peak", "尖峰"],
    "green.title": ["Green power and CO₂", "绿电占比与碳排放"],
    "green.today": ["Today", "今日"], "green.mtd": ["Month to date", "本月累计"],
    "green.ratio": ["Green-power ratio", "绿电占比"], "green.co2": ["CO₂ (location-based)", "碳排放（基于位置）"],
    "green.cost": ["Energy cost", "电费（电量）"], "green.pv": ["PV energy", "光伏发电量"],
    "green.consumption": ["Consumption", "用电量"], "green.import": ["Grid import", "购电量"],
    "green.target": ["target", "目标"],
    "green.report": ["Report, month to date", "本月报表"],
    "green.split": ["Where the electricity came from (kWh)", "用电来源（kWh）"],
    "green.green_kwh": ["Green (on-site PV, purchases)", "绿电（自发自用、绿电交易）"],
    "green.grid_kwh": ["Grid (not green)", "电网（非绿电）"],
    "events.title": ["Events", "事件"],
    "events.category": ["Category", "类别"],
    "alarms.title": ["Alarms", "告警"], "alarms.active_only": ["Active only", "仅未恢复"],
    "alarms.raised": ["Raised", "发生时间"], "alarms.code": ["Code", "代码"], "alarms.count": ["Count", "次数"],
    "alarms.cleared": ["Cleared", "恢复时间"], "alarms.none": ["No alarms", "无告警"],
    "col.user": ["User", "用户"],
    "kpi.cost_total_cny": ["Cost (CNY)", "总成本（元）"], "kpi.savings_vs_baseline_cny": ["Saving vs rule-based (CNY)", "较规则策略节省（元）"],
    "kpi.import_kwh": ["Grid import (kWh)", "购电量（kWh）"], "kpi.export_kwh": ["Export (kWh)", "上网电量（kWh）"],
    "kpi.pv_generation_kwh": ["PV generation (kWh)", "光伏发电量（kWh）"], "kpi.pv_curtailed_kwh": ["PV curtailed (kWh)", "弃光电量（kWh）"],
    "kpi.peak_import_kw": ["Peak import (kW)", "最大需量（kW）"], "kpi.green_power_ratio": ["Green-power ratio", "绿电占比"],
    "kpi.co2_kg": ["CO₂ (kg)", "碳排放（kg）"], "kpi.battery_discharge_kwh": ["Storage discharge (kWh)", "储能放电量（kWh）"],
    "plan.no_hp": ["This site has no heat pumps", "本站点无热泵"],
    "events.alarms_only": ["Alarms only", "仅告警"], "events.unack": ["Unacknowledged", "未确认"],
    "events.refresh": ["Refresh", "刷新"], "events.older": ["Older", "更早"],
    "events.ack": ["Acknowledge", "确认"], "events.none": ["No events", "无事件"],
    "control.title": ["Manual override", "人工干预设定"],
    "control.asset": ["Asset", "设备"], "control.value": ["Value (kW)", "设定值（kW）"],
    "control.duration": ["Duration (minutes)", "持续时间（分钟）"], "control.reason": ["Reason", "原因"],
    "control.submit": ["Set override", "下发干预"], "control.active": ["Overrides in force", "生效中的干预"],
    "control.expires": ["Expires", "到期"], "control.by": ["By", "操作人"], "control.clear": ["Clear", "取消"],
    "control.replan": ["Re-plan", "重新优化"], "control.replan_submit": ["Re-plan now", "立即重新优化"],
    "control.range": ["Allowed", "允许范围"], "control.done": ["Override set until", "干预已生效，至"],
    "control.cleared": ["Override cleared", "干预已取消"], "control.none": ["None", "无"],
    "control.replan_ok": ["Re-plan requested", "已请求重新优化"],
    "mode.normal": ["normal", "正常"], "mode.fallback": ["fallback", "后备策略"], "mode.safe": ["safe state", "安全状态"],
    "mode.manual": ["manual", "手动"],
    "health.online": ["online", "在线"], "health.degraded": ["degraded", "降级"], "health.stale": ["stale", "数据陈旧"],
    "health.offline": ["offline", "离线"], "health.unknown": ["unknown", "未知"],
    "err.session": ["Session ended: please sign in again", "会话已结束，请重新登录"],
    "err.network": ["Cannot reach the server", "无法连接服务器"]
  };
  var KEY = "mg.lang";
  function initial() {
    try { var saved = localStorage.getItem(KEY); if (saved === "zh" || saved === "en") return saved; } catch (e) { /* private mode */ }
    return (navigator.language || "").toLowerCase().indexOf("zh") === 0 ? "zh" : "en";
  }
  var lang = initial();
  function t(key, fallback) {
    var entry = T[key];
    if (!entry) return fallback !== undefined ? fallback : key;
    return lang === "zh" ? entry[1] : entry[0];
  }
  function apply(root) {
    (root || document).querySelectorAll("[data-i18n]").forEach(function (el) {
      el.textContent = t(el.getAttribute("data-i18n"), el.textContent);
    });
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    var btn = document.getElementById("lang-toggle");
    if (btn) btn.textContent = lang === "zh" ? "English" : "中文";
  }
  function setLang(value) {
    lang = value;
    try { localStorage.setItem(KEY, value); } catch (e) { /* ignore */ }
    apply();
    document.dispatchEvent(new CustomEvent("mg:lang", { detail: value }));
  }
  window.MG = window.MG || {};
  window.MG.t = t;
  window.MG.lang = function () { return lang; };
  window.MG.setLang = setLang;
  window.MG.applyI18n = apply;
  document.addEventListener("DOMContentLoaded", function () {
    apply();
    var btn = document.getElementById("lang-toggle");
    if (btn) btn.addEventListener("click", function () { setLang(lang === "zh" ? "en" : "zh"); });
  });
})();
