"""The PDF report's words in each of the station's languages, without Qt.

The window translates with Qt Linguist; the reports layer runs headless and must not import
PySide6, so the report keeps its own small catalogue: one dictionary per language, the same
keys in each (a test checks that every language has every key with the same ``{placeholders}``).
Failure codes, serials, hashes and times stay as the records hold them, in every language.
Step names and attempt results are translated for the reader; their codes are in the CSV.

English (``en``) is the reference: it is what ``station report yield`` prints too, since the
CLI speaks English.
"""

# Chinese is set with full-width punctuation (U+FF08, U+FF0C, ...), as a Chinese reader expects.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from station.domain.languages import ENGLISH, LANGUAGES
from station.reports.errors import ReportError

_EN: Final[Mapping[str, str]] = {
    "title": "Traceability report",
    "author": "Provisioning station {station}",
    "footer": "{title} · station {station} · created {created} · signed by key {key}…",
    "page": "page {page}",
    "cover.created": "Created {local} ({utc}) by station {station}. Times are local ({zone}) unless marked UTC; "
                     "the database keeps UTC.",
    "heading.filter": "Filter",
    "heading.totals": "Totals",
    "heading.inventory": "Stations, products and work orders",
    "heading.hashes": "Recipes and firmware used (SHA-256)",
    "heading.signature": "Signature",
    "heading.yield": "Yield",
    "heading.failures_by_code": "Failures by code",
    "heading.failures_by_step": "Failures by step",
    "heading.time_per_step": "Time per step",
    "heading.units": "Units",
    "label.attempts": "attempts",
    "label.units": "units",
    "label.rework": "rework attempts",
    "label.first_pass_yield": "first-pass yield",
    "label.final_yield": "final yield",
    "label.span": "time span",
    "label.unit_table": "unit table",
    "label.stations": "stations",
    "label.products": "products",
    "label.work_orders": "work orders",
    "label.operators": "operators",
    "label.recipes": "recipes",
    "label.images": "firmware images",
    "label.attempts_per_unit": "attempts per unit",
    "label.units_per_hour": "units per hour",
    "label.attempt_time": "attempt time",
    "label.failures": "failures",
    "none": "none",
    "list.more": "{items} and {more} more",
    "hashes.more": "and {more} more",
    "recipe.unsigned": "not signed",
    "recipe.signed": "signed by {person} ({role}), key:",
    "recipe.approved": "approved by {person} ({role}), key:",
    "totals.attempts": "{attempts}  ({results})",
    "totals.units": "{units} production units; {golden_units} golden (reference) units with {golden_attempts} "
                    "attempts, left out of yield",
    "totals.span": "{start} to {end}",
    "totals.unit_table": "{listed} of {total} attempts listed",
    "signature.text": "This file is signed by the station's Ed25519 key with fingerprint (SHA-256 of the public key):",
    "signature.check": "Its manifest (this file's name + .manifest.json) records the file's SHA-256, and the "
                       "signature (+ .sig) covers the manifest. Check both with: station report verify FILE "
                       "--public-key STATION.pub",
    "yield.value": "{percent} % ({numerator} of {denominator})",
    "yield.first_pass": "{value} — units whose first attempt ever passed / units whose first attempt is in this "
                        "report and has ended",
    "yield.final": "{value} — units whose latest attempt passed / units",
    "yield.attempts_per_unit": "{value} ({production} production attempts)",
    "yield.units_per_hour": "{rate} over {duration}",
    "yield.units_per_hour_short": "— (the attempts span less than {minutes} minutes)",
    "yield.attempt_time": "median {median} s, 95th percentile {p95} s",
    "yield.failures": "{failures} ({failed} failed, {inspection} need inspection); in progress: {in_progress}",
    "yield.note": "Golden (reference) units and rework attempts are left out of these figures; see the README's "
                  "definitions.",
    "column.step": "step",
    "column.count": "count",
    "column.median": "median (s)",
    "column.p95": "95th percentile (s)",
    "column.max": "max (s)",
    "column.failure_code": "failure code",
    "column.share": "share",
    "column.cumulative": "cumulative",
    "column.attempt": "attempt",
    "column.serial": "serial",
    "column.device": "device id",
    "column.result": "result",
    "column.failure": "failure (step: code)",
    "column.operator": "operator",
    "column.started": "started (local)",
    "column.fingerprint": "certificate fingerprint (SHA-256)",
    "timing.attempt": "attempt",
    "failures.none": "No failures.",
    "units.note": "One line per attempt, oldest first; times are local ({zone}). * marks a golden (reference) "
                  "unit, left out of yield; R a rework (a supervisor's erase).",
    "units.empty": "No attempts match the filter.",
    "units.more": "{remaining} more rows in the CSV/JSON export: this report lists the first {listed} of {total} "
                  "attempts. The figures and charts above cover all of them.",
    "units.end": "End of the unit table: {listed} attempts.",
    "chart.pareto_title": "Failure Pareto (by code)",
    "chart.cycle_title": "Cycle time per step",
    "chart.no_failures": "no failures",
    "chart.no_steps": "no finished steps",
    "chart.failures": "failures",
    "chart.cumulative": "cumulative %",
    "chart.median": "median (s)",
    "chart.p95": "95th percentile (s)",
    "chart.other": "other ({count})",
    "filter.work_order": "work order",
    "filter.product": "product",
    "filter.recipe": "recipe",
    "filter.station": "station",
    "filter.operator": "operator",
    "filter.since": "started from",
    "filter.until": "started before",
    "filter.result": "result",
    "filter.serials": "serials",
    "filter.label": "filter",
    "filter.all": "all attempts",
    "duration.seconds": "{value} s",
    "duration.minutes": "{value} min",
    "duration.hours": "{value} h",
    "result.IN_PROGRESS": "IN_PROGRESS",
    "result.PASSED": "PASSED",
    "result.FAILED": "FAILED",
    "result.NEEDS_INSPECTION": "NEEDS_INSPECTION",
    "step.connect": "connect",
    "step.flash": "flash",
    "step.verify": "verify",
    "step.credentials": "credentials",
    "step.lock": "lock",
    "step.lock-confirm": "lock-confirm",
    "step.activate": "activate",
    "step.identity": "identity",
    "step.rework": "rework",
    "step.recovery": "recovery",
    "step.scan": "scan",
    "step.internal": "internal",
}

_ES: Final[Mapping[str, str]] = {
    "title": "Informe de trazabilidad",
    "author": "Estación de aprovisionamiento {station}",
    "footer": "{title} · estación {station} · creado {created} · firmado con la clave {key}…",
    "page": "página {page}",
    "cover.created": "Creado el {local} ({utc}) por la estación {station}. Las horas son locales ({zone}) salvo "
                     "las marcadas UTC; la base de datos guarda UTC.",
    "heading.filter": "Filtro",
    "heading.totals": "Totales",
    "heading.inventory": "Estaciones, productos y órdenes de trabajo",
    "heading.hashes": "Recetas y firmware usados (SHA-256)",
    "heading.signature": "Firma",
    "heading.yield": "Rendimiento",
    "heading.failures_by_code": "Fallos por código",
    "heading.failures_by_step": "Fallos por paso",
    "heading.time_per_step": "Tiempo por paso",
    "heading.units": "Unidades",
    "label.attempts": "intentos",
    "label.units": "unidades",
    "label.rework": "intentos de retrabajo",
    "label.first_pass_yield": "rendimiento a la primera",
    "label.final_yield": "rendimiento final",
    "label.span": "periodo",
    "label.unit_table": "tabla de unidades",
    "label.stations": "estaciones",
    "label.products": "productos",
    "label.work_orders": "órdenes de trabajo",
    "label.operators": "operadores",
    "label.recipes": "recetas",
    "label.images": "imágenes de firmware",
    "label.attempts_per_unit": "intentos por unidad",
    "label.units_per_hour": "unidades por hora",
    "label.attempt_time": "tiempo por intento",
    "label.failures": "fallos",
    "none": "ninguno",
    "list.more": "{items} y {more} más",
    "hashes.more": "y {more} más",
    "recipe.unsigned": "sin firmar",
    "recipe.signed": "firmada por {person} ({role}), clave:",
    "recipe.approved": "aprobada por {person} ({role}), clave:",
    "totals.attempts": "{attempts}  ({results})",
    "totals.units": "{units} unidades de producción; {golden_units} unidades de referencia (golden) con "
                    "{golden_attempts} intentos, excluidas del rendimiento",
    "totals.span": "del {start} al {end}",
    "totals.unit_table": "{listed} de {total} intentos en la lista",
    "signature.text": "Este archivo está firmado con la clave Ed25519 de la estación, cuya huella (SHA-256 de la "
                      "clave pública) es:",
    "signature.check": "Su manifiesto (el nombre de este archivo + .manifest.json) registra el SHA-256 del "
                       "archivo, y la firma (+ .sig) cubre el manifiesto. Compruebe ambos con: station report "
                       "verify FILE --public-key STATION.pub",
    "yield.value": "{percent} % ({numerator} de {denominator})",
    "yield.first_pass": "{value} — unidades cuyo primer intento pasó / unidades cuyo primer intento está en este "
                        "informe y ha terminado",
    "yield.final": "{value} — unidades cuyo último intento pasó / unidades",
    "yield.attempts_per_unit": "{value} ({production} intentos de producción)",
    "yield.units_per_hour": "{rate} en {duration}",
    "yield.units_per_hour_short": "— (los intentos abarcan menos de {minutes} minutos)",
    "yield.attempt_time": "mediana {median} s, percentil 95 {p95} s",
    "yield.failures": "{failures} ({failed} fallidos, {inspection} requieren inspección); en curso: {in_progress}",
    "yield.note": "Las unidades de referencia (golden) y los intentos de retrabajo no cuentan en estas cifras; "
                  "vea las definiciones en el README.",
    "column.step": "paso",
    "column.count": "cantidad",
    "column.median": "mediana (s)",
    "column.p95": "percentil 95 (s)",
    "column.max": "máx. (s)",
    "column.failure_code": "código de fallo",
    "column.share": "proporción",
    "column.cumulative": "acumulado",
    "column.attempt": "intento",
    "column.serial": "número de serie",
    "column.device": "id. dispositivo",
    "column.result": "resultado",
    "column.failure": "fallo (paso: código)",
    "column.operator": "operador",
    "column.started": "inicio (local)",
    "column.fingerprint": "huella del certificado (SHA-256)",
    "timing.attempt": "intento completo",
    "failures.none": "Sin fallos.",
    "units.note": "Una línea por intento, del más antiguo al más reciente; horas locales ({zone}). * marca una "
                  "unidad de referencia (golden), excluida del rendimiento; R, un retrabajo (borrado por un "
                  "supervisor).",
    "units.empty": "Ningún intento coincide con el filtro.",
    "units.more": "{remaining} filas más en la exportación CSV/JSON: este informe lista los primeros {listed} de "
                  "{total} intentos. Las cifras y los gráficos de arriba los cubren todos.",
    "units.end": "Fin de la tabla de unidades: {listed} intentos.",
    "chart.pareto_title": "Pareto de fallos (por código)",
    "chart.cycle_title": "Tiempo de ciclo por paso",
    "chart.no_failures": "sin fallos",
    "chart.no_steps": "ningún paso terminado",
    "chart.failures": "fallos",
    "chart.cumulative": "% acumulado",
    "chart.median": "mediana (s)",
    "chart.p95": "percentil 95 (s)",
    "chart.other": "otros ({count})",
    "filter.work_order": "orden de trabajo",
    "filter.product": "producto",
    "filter.recipe": "receta",
    "filter.station": "estación",
    "filter.operator": "operador",
    "filter.since": "iniciados desde",
    "filter.until": "iniciados antes de",
    "filter.result": "resultado",
    "filter.serials": "números de serie",
    "filter.label": "filtro",
    "filter.all": "todos los intentos",
    "duration.seconds": "{value} s",
    "duration.minutes": "{value} min",
    "duration.hours": "{value} h",
    "result.IN_PROGRESS": "En curso",
    "result.PASSED": "Aprobado",
    "result.FAILED": "Fallido",
    "result.NEEDS_INSPECTION": "Requiere inspección",
    "step.connect": "conectar",
    "step.flash": "programar",
    "step.verify": "verificar",
    "step.credentials": "credenciales",
    "step.lock": "bloquear",
    "step.lock-confirm": "confirmar bloqueo",
    "step.activate": "activar",
    "step.identity": "comprobar identidad",
    "step.rework": "borrado por retrabajo",
    "step.recovery": "recuperación",
    "step.scan": "escanear",
    "step.internal": "estación",
}

_ZH_CN: Final[Mapping[str, str]] = {
    "title": "追溯报告",
    "author": "生产配置工作站 {station}",
    "footer": "{title} · 工作站 {station} · 创建于 {created} · 签名密钥 {key}…",
    "page": "第 {page} 页",
    "cover.created": "由工作站 {station} 于 {local}（{utc}）创建。除标注 UTC 的时间外，均为本地时间（{zone}）；"
                     "数据库保存的是 UTC 时间。",
    "heading.filter": "筛选条件",
    "heading.totals": "汇总",
    "heading.inventory": "工作站、产品型号和工单",
    "heading.hashes": "使用的配方和固件（SHA-256）",
    "heading.signature": "签名",
    "heading.yield": "良率",
    "heading.failures_by_code": "按代码统计的失败",
    "heading.failures_by_step": "按步骤统计的失败",
    "heading.time_per_step": "各步骤用时",
    "heading.units": "产品明细",
    "label.attempts": "尝试次数",
    "label.units": "产品数",
    "label.rework": "返工次数",
    "label.first_pass_yield": "直通率",
    "label.final_yield": "最终良率",
    "label.span": "时间范围",
    "label.unit_table": "产品明细表",
    "label.stations": "工作站",
    "label.products": "产品型号",
    "label.work_orders": "工单",
    "label.operators": "操作员",
    "label.recipes": "配方",
    "label.images": "固件镜像",
    "label.attempts_per_unit": "每个产品的尝试次数",
    "label.units_per_hour": "每小时产量",
    "label.attempt_time": "单次尝试用时",
    "label.failures": "失败次数",
    "none": "无",
    "list.more": "{items}，另有 {more} 个",
    "hashes.more": "另有 {more} 个",
    "recipe.unsigned": "未签名",
    "recipe.signed": "签名人 {person}（{role}），密钥：",
    "recipe.approved": "批准人 {person}（{role}），密钥：",
    "totals.attempts": "{attempts}（{results}）",
    "totals.units": "{units} 个生产产品；{golden_units} 个黄金参考单元，共 {golden_attempts} 次尝试，不计入良率",
    "totals.span": "{start} 至 {end}",
    "totals.unit_table": "列出 {total} 次尝试中的 {listed} 次",
    "signature.text": "本文件由工作站的 Ed25519 密钥签名，密钥指纹（公钥的 SHA-256）为：",
    "signature.check": "其清单文件（本文件名 + .manifest.json）记录了本文件的 SHA-256，签名文件（+ .sig）"
                       "覆盖该清单。可用以下命令校验两者：station report verify FILE --public-key STATION.pub",
    "yield.value": "{percent} %（{numerator}/{denominator}）",
    "yield.first_pass": "{value} — 首次尝试即合格的产品数 / 首次尝试在本报告范围内且已结束的产品数",
    "yield.final": "{value} — 最近一次尝试合格的产品数 / 产品数",
    "yield.attempts_per_unit": "{value}（{production} 次生产尝试）",
    "yield.units_per_hour": "{rate}（统计时长 {duration}）",
    "yield.units_per_hour_short": "—（尝试的时间跨度不足 {minutes} 分钟）",
    "yield.attempt_time": "中位数 {median} 秒，第 95 百分位 {p95} 秒",
    "yield.failures": "{failures}（{failed} 次不合格，{inspection} 次待检查）；进行中：{in_progress}",
    "yield.note": "黄金参考单元和返工尝试不计入以上数据；定义见 README。",
    "column.step": "步骤",
    "column.count": "次数",
    "column.median": "中位数（秒）",
    "column.p95": "第 95 百分位（秒）",
    "column.max": "最大值（秒）",
    "column.failure_code": "失败代码",
    "column.share": "占比",
    "column.cumulative": "累计",
    "column.attempt": "尝试",
    "column.serial": "序列号",
    "column.device": "设备 ID",
    "column.result": "结果",
    "column.failure": "失败（步骤：代码）",
    "column.operator": "操作员",
    "column.started": "开始时间（本地）",
    "column.fingerprint": "证书指纹（SHA-256）",
    "timing.attempt": "整次尝试",
    "failures.none": "无失败。",
    "units.note": "每次尝试一行，按时间从早到晚排列；时间为本地时间（{zone}）。* 表示黄金参考单元，不计入良率；"
                  "R 表示返工（主管执行的擦除）。",
    "units.empty": "没有符合筛选条件的尝试。",
    "units.more": "另有 {remaining} 行在 CSV/JSON 导出中：本报告列出 {total} 次尝试中的前 {listed} 次。"
                  "以上数据和图表涵盖全部尝试。",
    "units.end": "产品明细表结束：共 {listed} 次尝试。",
    "chart.pareto_title": "失败帕累托图（按代码）",
    "chart.cycle_title": "各步骤周期时间",
    "chart.no_failures": "无失败",
    "chart.no_steps": "没有已完成的步骤",
    "chart.failures": "失败次数",
    "chart.cumulative": "累计 %",
    "chart.median": "中位数（秒）",
    "chart.p95": "第 95 百分位（秒）",
    "chart.other": "其他（{count}）",
    "filter.work_order": "工单",
    "filter.product": "产品型号",
    "filter.recipe": "配方",
    "filter.station": "工作站",
    "filter.operator": "操作员",
    "filter.since": "开始时间不早于",
    "filter.until": "开始时间早于",
    "filter.result": "结果",
    "filter.serials": "序列号",
    "filter.label": "筛选条件",
    "filter.all": "全部尝试",
    "duration.seconds": "{value} 秒",
    "duration.minutes": "{value} 分钟",
    "duration.hours": "{value} 小时",
    "result.IN_PROGRESS": "进行中",
    "result.PASSED": "合格",
    "result.FAILED": "不合格",
    "result.NEEDS_INSPECTION": "待检查",
    "step.connect": "连接",
    "step.flash": "烧录",
    "step.verify": "校验",
    "step.credentials": "凭证",
    "step.lock": "锁定",
    "step.lock-confirm": "锁定确认",
    "step.activate": "激活",
    "step.identity": "身份检查",
    "step.rework": "返工擦除",
    "step.recovery": "恢复",
    "step.scan": "扫描",
    "step.internal": "工作站",
}

CATALOGUES: Final[Mapping[str, Mapping[str, str]]] = {ENGLISH: _EN, "es": _ES, "zh_CN": _ZH_CN}
REPORT_LANGUAGES: Final = LANGUAGES


class ReportTexts:
    """The report's words in one language: ``texts("key", name=value)`` formats one of them."""

    def __init__(self, language: str = ENGLISH) -> None:
        words = CATALOGUES.get(language)
        if words is None:
            raise ReportError(f"the report has no language {language!r}: choose one of {', '.join(LANGUAGES)}")
        self.language = language
        self._words = words

    def __call__(self, key: str, /, **values: object) -> str:
        return self._words[key].format(**values)

    def result(self, result: str) -> str:
        """An attempt's result (``PASSED``…) in words; an unknown one as it is."""
        return self._words.get(f"result.{result}", result)

    def step(self, name: str) -> str:
        """A step's name in words; a name the station does not know as it is."""
        return self._words.get(f"step.{name}", name)

    def more(self, items: str, more: int) -> str:
        """``items`` and, when ``more`` is not 0, how many more there are."""
        return self("list.more", items=items, more=more) if more else items


ENGLISH_TEXTS: Final = ReportTexts(ENGLISH)


def check_report_language(language: str) -> str:
    """``language`` if the report speaks it, else :class:`ReportError` naming the ones it does."""
    return ReportTexts(language).language
