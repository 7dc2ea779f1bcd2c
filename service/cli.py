"""proposal-router：在命令行上训练、评估、导出模型，交办一批提案或一件提案。"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from proposal_router.model.errors import DataError, ProposalRouterError, RowIssue
from proposal_router.model.intake.records import ColumnMap
from proposal_router.service.argparse_zh import chinese
from proposal_router.service.commands import (
    TAXONOMY_HELP,
    bundle_use_taxonomy,
    column_flags,
    column_map,
    option_flag,
    report,
    training_taxonomy,
)
from proposal_router.service.config import Settings
from proposal_router.service.flags import add_flags, build_model
from proposal_router.service.security import Role

if TYPE_CHECKING:
    from proposal_router.service.similar import Filed

EXIT_BAD_INPUT = 2
TRAINING_PACKAGES = frozenset(
    {"torch", "transformers", "datasets", "sklearn", "matplotlib", "pandas", "onnx", "cleanlab"}
)
TRAIN_EXTRA = "pip install 'proposal-router[train]'"


def _router(args: argparse.Namespace, settings: Settings) -> Any:
    from proposal_router.model.router import Router

    taxonomy = bundle_use_taxonomy(args.model, args.taxonomy, settings)
    return Router(args.model, threads=args.threads or settings.threads, precision=args.encoder, taxonomy=taxonomy)


def _train(args: argparse.Namespace, settings: Settings) -> None:
    from proposal_router.model.manifest import NEVER_AUTO
    from proposal_router.training.config import FLAGS, TrainConfig
    from proposal_router.training.data import load_labelled, remap_lines
    from proposal_router.training.pipeline import EVALUATION, train_bundle
    from proposal_router.training.screening import load_rejections

    config = build_model(TrainConfig, args, FLAGS, base_model=settings.base_model, threads=settings.threads)
    taxonomy = training_taxonomy(args, settings)
    columns = column_map(args)
    data = load_labelled(args.data, columns, taxonomy, args.sheet)
    report(data.warnings)
    for part in data.files:
        print(f"{part.path}：{part.rows} 件提案", file=sys.stderr)
    print(f"训练数据共 {len(data.examples)} 件提案；预测项：{'、'.join(data.heads)}", file=sys.stderr)
    for line in remap_lines(data):
        print(f"机构改革：{line}")
    rejected = load_rejections(args.rejections, columns) if args.rejections else []
    if rejected:
        print(f"不予立案的文件 {len(rejected)} 件：用于学习审查立案提示", file=sys.stderr)
    manifest = train_bundle(data, taxonomy, Path(args.out), config, columns, rejected)
    lead = manifest.metrics.get("lead_department", {})
    routing = manifest.metrics.get("routing", {})
    print(f"模型：{args.out}（{manifest.version}；组件：{'、'.join(manifest.components)}）")
    if lead:
        source = "留出测试集" if manifest.metrics.get("source") == "held-out" else "交叉拟合样本外"
        policy = manifest.routing
        if policy.lead_threshold >= NEVER_AUTO:
            auto = f"模型的验证数据不足以证明自动交办可达到{policy.target_precision:.0%}精度，全部人工复核"
        else:
            auto = (
                f"自动交办 {routing.get('coverage', 0):.1%}，其准确率 {routing.get('auto_precision') or 0:.3f}"
                f"（阈值 {policy.lead_threshold:.3f}）"
            )
        print(f"{source}主办单位准确率 {lead['accuracy']:.3f}，前三命中率 {lead['top3_accuracy']:.3f}；{auto}")
    if manifest.screening is not None:
        found = manifest.screening.metrics
        print(
            f"审查立案提示（交叉拟合样本外）：不予立案的文件标出 {found['oof_recall']:.0%}，"
            f"正常提案误标 {found['oof_proper_flagged']:.1%}"
        )
    print(f"评估报告：{Path(args.out) / EVALUATION / 'report.md'}")


def _evaluate(args: argparse.Namespace, settings: Settings) -> None:
    from proposal_router.training.data import load_labelled
    from proposal_router.training.evaluate import Evaluation, write_evaluation

    router = _router(args, settings)
    data = load_labelled(args.data, column_map(args), router.taxonomy, args.sheet)
    report(data.warnings)
    for example in data.examples:  # gold names in the router's names, whichever side of a 机构改革 each is
        example.lead = example.lead and (router.department(example.lead) or example.lead)
        example.co = example.co and [router.department(c) or c for c in example.co]
    evaluation = Evaluation(
        examples=data.examples,
        probs=router.probabilities([e.text for e in data.examples]),
        labels=router.labels,
        routing=router.manifest.routing,
        co_threshold=router.manifest.co_threshold(),
    )
    metrics = write_evaluation(Path(args.out), evaluation, f"{'、'.join(args.data)}，模型 {router.version}")
    print(json.dumps(metrics, ensure_ascii=False, indent=2))
    print(f"评估报告：{Path(args.out) / 'report.md'}", file=sys.stderr)


def _route(args: argparse.Namespace, settings: Settings) -> None:
    from proposal_router.model.intake.records import read_proposals
    from proposal_router.model.intake.tables import read_table
    from proposal_router.service.engine import Keyed
    from proposal_router.service.workbook import RoutedRow

    engine = _engine(args, settings)
    if args.job:
        _route_job(args, settings, engine)
        return
    table = read_table(args.input, args.sheet, limits=settings.read_limits)
    rows, issues = read_proposals(table, column_map(args), settings.max_text_chars)
    routed: list[RoutedRow] = []
    with _progress(len(rows)) as bar:
        items = [Keyed(i, row.proposal) for i, row in enumerate(rows)]
        for part in engine.stream(items, args.batch_size or settings.batch_size):
            routed.extend(RoutedRow(rows[key].raw, result, text=rows[key].proposal.text) for key, result in part)
            bar.update(len(part))
    _write_routed(args, settings, table.columns, routed, issues)


def _engine(args: argparse.Namespace, settings: Settings) -> Any:
    from proposal_router.service.engines import batch_engine

    taxonomy = bundle_use_taxonomy(args.model, args.taxonomy, settings)
    return batch_engine(
        args.engine or settings.engine,
        args.model,
        threads=args.threads or settings.threads,
        precision=args.encoder,
        workers=args.workers or settings.ray_workers,
        address=args.ray_address or settings.ray_address,
        taxonomy=taxonomy,
    )


def _progress(total: int, done: int = 0) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, desc="交办", unit="件", disable=None)


def _route_job(args: argparse.Namespace, settings: Settings, engine: Any) -> None:
    """`route --job`: the same routing, stored in the database as it goes, so a killed run resumes. The job is
    claimed like a server's (`claims.py`), so a server on the same database does not route it meanwhile."""
    from datetime import timedelta

    from proposal_router.model.errors import Conflict
    from proposal_router.model.intake.records import read_proposals
    from proposal_router.model.intake.tables import read_table
    from proposal_router.service import batches, claims
    from proposal_router.service.db.engine import make_engine, session_factory
    from proposal_router.service.db.migrate import upgrade
    from proposal_router.service.db.models import BatchJob
    from proposal_router.service.statuses import JobStatus
    from proposal_router.service.trust import Arrival, Gate

    database = make_engine(args.db or settings.database_url)
    upgrade(database)
    sessions = session_factory(database)
    columns = column_map(args)
    settled = (JobStatus.DONE, JobStatus.CANCELLED)  # a failed job is taken up again
    digest = batches.fingerprint(Path(args.input), columns, args.sheet)
    owner, lease = claims.new_owner(), timedelta(seconds=settings.job_lease_seconds)
    with sessions() as session:
        job = batches.latest_job(session, digest)
        if job is None:
            table = read_table(args.input, args.sheet, limits=settings.read_limits)
            rows, issues = read_proposals(table, columns, settings.max_text_chars)
            job = batches.create_job(session, args.input, digest, table, rows, issues, columns, "cli", owner)
            print(f"批处理任务 {job.id}：待交办 {job.total_rows} 行")
        elif job.status not in settled and (holder := claims.claim(session, job.id, owner, lease)):
            raise Conflict(
                f"批处理任务 {job.id} 正由另一进程（{holder}）路由：请等它完成，"
                f"或在它停止 {lease.total_seconds():g} 秒（PROPOSAL_ROUTER_JOB_LEASE_SECONDS）后再运行本命令"
            )
        state = batches.progress(session, job)
        if job.status != JobStatus.QUEUED:
            done = f"此前已交办 {state.done_rows}/{job.total_rows} 行"
            print(f"继续批处理任务 {job.id}（{batches.STATUS_NAMES[JobStatus(job.status)]}）：{done}")
    with (
        _progress(state.total_rows, state.done_rows) as bar,
        claims.Heartbeat(sessions, job.id, owner, lease.total_seconds() / 4),
    ):
        batch = args.batch_size or settings.batch_size
        # stored in the service's database: paused routing holds these too, and some are drawn for audit (抽查)
        arrival = Arrival(gate=Gate(settings.audit_rate))
        batches.run_job(sessions, engine, job.id, "cli", batch, bar.update, owner=owner, arrival=arrival)
    with sessions() as session:
        finished = session.get(BatchJob, job.id)
        assert finished is not None
        for version, count in batches.versions_other_than(session, finished, engine.version).items():
            print(
                f"警告：{count} 行沿用模型 {version} 已存的交办结果：一件提案只交办一次，"
                f"本文件的任务或这些编号在 {engine.version} 之前已交办过",
                file=sys.stderr,
            )
        _write_routed(
            args, settings, list(finished.columns), batches.result_rows(session, finished), batches.issues_of(finished)
        )
    database.dispose()


def _write_routed(
    args: argparse.Namespace, settings: Settings, original: list[str], routed: list[Any], issues: Sequence[RowIssue]
) -> None:
    from proposal_router.model.intake.tables import write_table
    from proposal_router.service.output import (
        FINAL_COLUMNS,
        QUALITY_COLUMN,
        RESULT_COLUMNS,
        SCREENING_COLUMN,
        SIMILAR_COLUMN,
        final_row,
        prescreen_cells,
        result_row,
    )
    from proposal_router.service.workbook import write_department_files, write_workbook

    routed = _with_similar(args, settings, routed)
    output = Path(args.output)
    if output.suffix.lower() == ".xlsx":  # the office's workbook: Chinese columns, summary, rejected rows
        write_workbook(output, original, routed, issues)
    else:
        final = any(r.final is not None for r in routed)  # a stored job: decisions taken since are shown
        added = RESULT_COLUMNS + [SCREENING_COLUMN, SIMILAR_COLUMN, QUALITY_COLUMN] + (FINAL_COLUMNS if final else [])
        columns = [c for c in original if c not in added] + added
        as_json = output.suffix.lower() != ".jsonl"
        write_table(
            output,
            columns,
            (
                {
                    **r.raw,
                    **result_row(r.result),
                    **prescreen_cells(r.result, r.similar or [], as_json),
                    **final_row(r.final),
                }
                for r in routed
            ),
        )
    review = sum(r.result.decision == "review" for r in routed)
    print(f"已交办 {len(routed)} 件提案：自动 {len(routed) - review} 件，待复核 {review} 件 → {output}")
    if args.split_by_department:
        files = write_department_files(Path(args.split_by_department), original, routed)
        print(f"{len(files)} 个单位的清单 → {args.split_by_department}")
    if issues:
        report(issues)
        rejected = output.with_name(output.stem + ".rejected.csv")
        write_table(
            rejected,
            ["file", "row", "column", "problem"],
            [{"file": i.file, "row": i.row, "column": i.column, "problem": i.message} for i in issues],
        )
        print(f"{len(issues)} 行未交办 → {rejected}")


def _history(paths: Sequence[str], columns: ColumnMap, settings: Settings) -> list[Filed]:
    """Earlier years' filings from `--history` files: read with the intake's column flags, or, when a file
    lacks those columns, with the training file's own names (id, title, body)."""
    from proposal_router.model.intake.records import read_proposals
    from proposal_router.model.intake.tables import read_table
    from proposal_router.service.similar import Filed

    filed: list[Filed] = []
    for path in paths:
        table = read_table(path, limits=settings.read_limits)
        wanted = columns if set(columns.title + columns.body) & set(table.columns) else ColumnMap()
        rows, _ = read_proposals(table, wanted, settings.max_text_chars)
        filed.extend(Filed(r.proposal.id or f"{Path(path).name}第{r.row}行", r.proposal.text) for r in rows)
    return filed


def _with_similar(args: argparse.Namespace, settings: Settings, routed: list[Any]) -> list[Any]:
    """The rows with their 并案 candidates: earlier rows of the file and the `--history` files' filings."""
    from dataclasses import replace

    from proposal_router.service.similar import Filed, similar_to_earlier

    history = _history(args.history, column_map(args), settings)
    threshold = args.similar_threshold if args.similar_threshold is not None else settings.similar_threshold
    rows = [Filed(r.result.id or f"第{i + 1}件", r.text) for i, r in enumerate(routed)]
    found = similar_to_earlier(rows, history, threshold)
    if history:
        print(f"并案查找：往年 {len(history)} 件提案及本文件中在前的提案，相似度 ≥ {threshold:g}", file=sys.stderr)
    return [replace(r, similar=matches) for r, matches in zip(routed, found, strict=True)]


def _predict(args: argparse.Namespace, settings: Settings) -> None:
    from proposal_router.model.schemas import Proposal

    text = args.text if args.text is not None else sys.stdin.read()
    if not text.strip() and not (args.title or "").strip():
        raise DataError(RowIssue("<输入>", None, None, "提案文本为空：请作为参数给出，或从标准输入读入"))
    router = _router(args, settings)
    (result,) = router.route([Proposal(title=args.title or "", body=text)])
    print(result.model_dump_json(indent=2))


def _export(args: argparse.Namespace, settings: Settings) -> None:
    from proposal_router.training.export import export_bundle

    manifest = export_bundle(
        Path(args.model), quantize=args.quantize == "int8", serve=args.serve, int8_bar=args.min_agreement
    )
    for precision, info in manifest.exports.items():
        parity = info.parity
        if parity is not None:
            print(
                f"{precision}：{info.file}  主办单位一致 {parity.lead_agreement:.2%}，交办方式一致 "
                f"{parity.decision_agreement:.2%}，最大 |Δp| {parity.max_abs_diff:.2e}（{parity.rows} 件提案）"
            )
    print(f"服务使用的编码器：{manifest.encoder_file}")


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    from proposal_router.service.api.app import create_app

    overrides = {
        "model": args.model,
        "database_url": args.db,
        "encoder": args.encoder,
        "threads": args.threads,
        "taxonomy": args.taxonomy,
    }
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    app = create_app(settings)
    version = app.state.services.router.version
    print(f"服务已启动：模型 {version}，地址 http://{args.host}:{args.port}（数据库 {settings.database_url}）")
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", workers=1)


def _taxonomy_command(args: argparse.Namespace, settings: Settings) -> None:
    """`taxonomy diff OLD NEW`: what a 机构改革 changed, one department a line."""
    from proposal_router.model.taxonomy import diff_taxonomies, load_taxonomy

    old, new = load_taxonomy(args.old), load_taxonomy(args.new)
    lines = diff_taxonomies(old, new).lines()
    print(f"{args.old}（{old.city} {old.version}）→ {args.new}（{new.city} {new.version}）：")
    print("\n".join(f"  {line}" for line in lines) if lines else "  单位无变化")


def _keys(args: argparse.Namespace, settings: Settings) -> None:
    from proposal_router.service.db.engine import make_engine, session_factory
    from proposal_router.service.db.migrate import upgrade
    from proposal_router.service.domain import keys

    engine = make_engine(args.db or settings.database_url)
    upgrade(engine)
    with session_factory(engine)() as session:
        if args.action == "create":
            department = _key_department(args, settings)
            name = args.name or (f"{department}" if department else args.role)
            record, key = keys.create_key(session, name, args.role, "cli", department)
            scope = f"（{department}）" if department else ""
            print(f"已为 {record.name} 创建 {record.role}{scope} 密钥 {record.prefix}…，只显示这一次：")
            print(key)
        elif args.action == "revoke":
            keys.revoke_key(session, args.prefix, "cli")
            print(f"已吊销 {args.prefix}")
        else:
            for k in keys.list_keys(session):
                state = f"{k.revoked_at:%Y-%m-%d} 已吊销" if k.revoked_at else "有效"
                scope = f"（{k.department}）" if k.department and k.department != k.name else ""
                print(f"{k.prefix}…  {k.role:<10} {k.name}{scope}  （{state}，{k.created_at:%Y-%m-%d} 创建）")


def _key_department(args: argparse.Namespace, settings: Settings) -> str | None:
    """A department key's department as the taxonomy names it (an alias or former name resolves); without a
    taxonomy file, as typed."""
    if not args.department:
        return None
    from proposal_router.model.taxonomy import load_taxonomy
    from proposal_router.service.catalogue import Catalogue

    path = settings.checked_taxonomy(args.taxonomy)
    if path is None:
        return str(args.department).strip()
    taxonomy = load_taxonomy(path)
    return Catalogue([d.name for d in taxonomy.departments], [], taxonomy).department(args.department)


def _assignments(args: argparse.Namespace, settings: Settings) -> None:
    from zoneinfo import ZoneInfo

    from proposal_router.service.assignment_workbook import write_final_department_files, write_final_workbook
    from proposal_router.service.db.engine import make_engine, session_factory
    from proposal_router.service.db.migrate import upgrade
    from proposal_router.service.domain.assignments import Query, assigned, final_assignments

    zone = ZoneInfo(settings.timezone)
    since, until = (d.replace(tzinfo=zone) if d and d.tzinfo is None else d for d in (args.since, args.until))
    engine = make_engine(args.db or settings.database_url)
    upgrade(engine)
    with session_factory(engine)() as session:
        items = final_assignments(session, Query(since=since, until=until))
    engine.dispose()
    output = Path(args.output)
    write_final_workbook(output, items, settings.timezone)
    done = assigned(items)
    rejected = sum(i.status == "rejected" for i in items)
    print(f"交办清单 {len(done)} 件，不予立案 {rejected} 件，待复核 {len(items) - len(done) - rejected} 件 → {output}")
    if args.split_by_department:
        files = write_final_department_files(Path(args.split_by_department), items, settings.timezone)
        print(f"{len(files)} 个单位的交办清单（含主办和协办） → {args.split_by_department}")


def _compare(args: argparse.Namespace, settings: Settings) -> None:
    from proposal_router.service.comparison import run_compare

    run_compare(args, settings)


def _audit_labels(args: argparse.Namespace, settings: Settings) -> None:
    from proposal_router.service.label_audit import run_audit_labels

    run_audit_labels(args, settings)


def _moment(text: str) -> datetime:
    """A --since/--until value: a date (its midnight) or a date and time, local to PROPOSAL_ROUTER_TIMEZONE."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} 不是日期：请写成 2027-01-10 或 2027-01-10T09:30") from None


def _db(args: argparse.Namespace, settings: Settings) -> None:
    from proposal_router.service.db.engine import make_engine
    from proposal_router.service.db.migrate import current_revision, upgrade

    engine = make_engine(args.db or settings.database_url)
    upgrade(engine)
    print(f"数据库已升级到版本 {current_revision(engine)}")


def build_parser() -> argparse.ArgumentParser:
    from proposal_router.training.config import FLAGS, TrainConfig  # pydantic only: a serving install has it

    parser = argparse.ArgumentParser(prog="proposal-router", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, title="命令")
    columns = column_flags()

    train = commands.add_parser("train", parents=[columns], help="用上一年度的交办结果训练模型")
    train.add_argument(
        "--data",
        required=True,
        nargs="+",
        metavar="FILE",
        help="最终交办结果（CSV、XLSX、XLS 或 JSONL）；可给多个文件，如去年的导出加往年的文件",
    )
    train.add_argument(
        "--rejections",
        nargs="+",
        metavar="FILE",
        help="不予立案的文件（其 ground 列为理由代码，如 personal、academic），用于学习审查立案提示",
    )
    train.add_argument("--out", required=True, help="模型写入的目录")
    add_flags(train.add_argument_group("训练设置（TrainConfig）"), TrainConfig, FLAGS)

    evaluate = commands.add_parser("evaluate", parents=[columns], help="在已标注的数据上评估模型")
    evaluate.add_argument("--model", required=True, help="模型目录")
    evaluate.add_argument(
        "--data", required=True, nargs="+", metavar="FILE", help="已标注的数据（CSV、XLSX、XLS 或 JSONL），可给多个文件"
    )
    evaluate.add_argument("--out", required=True, help="metrics.json、report.md 和图表写入的目录")
    evaluate.add_argument("--threads", type=int, help="推理线程数（默认：全部核心）")
    evaluate.add_argument("--encoder", choices=["fp32", "int8"], help="使用的导出编码器（默认：模型指定的）")

    route = commands.add_parser("route", parents=[columns], help="交办一个文件中的提案")
    route.add_argument("--model", required=True, help="模型目录")
    route.add_argument("--input", required=True, help="待交办的提案文件（CSV、XLSX、XLS 或 JSONL）")
    route.add_argument("--output", required=True, help="CSV、XLSX 或 JSONL（按扩展名）")
    route.add_argument("--batch-size", type=int, help="每批推理的提案数")
    route.add_argument(
        "--job",
        action="store_true",
        help="把进度存入数据库（--db），中断后再运行从停下处继续",
    )
    route.add_argument("--db", help="--job 用的数据库（默认：PROPOSAL_ROUTER_DATABASE_URL）")
    route.add_argument("--split-by-department", metavar="DIR", help="另按建议的主办单位在 DIR 中各写一个 XLSX")
    route.add_argument("--threads", type=int, help="推理线程数（默认：全部核心；Ray 上每个工作进程 1 个）")
    route.add_argument("--engine", choices=["local", "ray"], help="在本进程（默认）或在 Ray 上交办")
    route.add_argument("--ray-address", help="要加入的 Ray 集群，如 ray://head:10001（默认：本机 Ray）")
    route.add_argument("--workers", type=int, help="Ray 工作进程数（默认：集群 CPU 数 / 线程数）")
    route.add_argument("--encoder", choices=["fp32", "int8"], help="使用的导出编码器（默认：模型指定的）")
    route.add_argument(
        "--history",
        nargs="+",
        metavar="FILE",
        default=[],
        help="往年已立案的提案（如训练用的最终交办结果），用于查找可并案的提案；列名同本文件或为 id/title/body",
    )
    route.add_argument(
        "--similar-threshold",
        type=float,
        help="可并案的相似度下限（默认：PROPOSAL_ROUTER_SIMILAR_THRESHOLD）",
    )

    export = commands.add_parser("export", help="把 transformer 导出为 ONNX（fp32、int8）并核对一致性")
    export.add_argument("--model", required=True, help="模型目录")
    export.add_argument("--quantize", choices=["int8"], help="另写一个 int8 编码器（onnxruntime 动态量化）")
    export.add_argument("--serve", choices=["fp32", "int8"], help="服务使用的编码器（默认：最后导出的）")
    export.add_argument("--min-agreement", type=float, help="int8 一致性门槛：主办单位相同的比例（默认 0.99）")

    predict = commands.add_parser("predict", help="交办一件提案并输出 JSON")
    predict.add_argument("--model", required=True, help="模型目录")
    predict.add_argument("text", nargs="?", help="提案正文（默认：从标准输入读入）")
    predict.add_argument("--title", help="提案标题")
    predict.add_argument("--threads", type=int, help="推理线程数（默认：全部核心）")
    predict.add_argument("--encoder", choices=["fp32", "int8"], help="使用的导出编码器（默认：模型指定的）")
    predict.add_argument("--taxonomy", help=TAXONOMY_HELP)

    db_help = "数据库 URL（默认：PROPOSAL_ROUTER_DATABASE_URL 或 sqlite:///proposal-router.db）"
    serve = commands.add_parser("serve", help="运行交办服务（API 和复核网页）")
    serve.add_argument("--model", help="模型目录（默认：PROPOSAL_ROUTER_MODEL）")
    serve.add_argument("--db", help=db_help)
    serve.add_argument("--host", default="127.0.0.1", help="监听地址（默认：127.0.0.1）")
    serve.add_argument("--port", type=int, default=8000, help="端口（默认：8000）")
    serve.add_argument("--threads", type=int, help="推理线程数（默认：全部核心）")
    serve.add_argument("--encoder", choices=["fp32", "int8"], help="使用的导出编码器（默认：模型指定的）")
    serve.add_argument("--taxonomy", help=TAXONOMY_HELP)

    keys = commands.add_parser("keys", help="创建、列出或吊销服务的 API 密钥")
    keys.add_argument("action", choices=["create", "list", "revoke"], help="创建、列出或吊销")
    keys.add_argument(
        "--role", choices=[r.value for r in Role], default=Role.SCREENER.value, help="密钥的角色（默认：screener）"
    )
    keys.add_argument("--name", help="密钥的使用者（记入审计日志；承办单位的密钥默认为单位名）")
    keys.add_argument(
        "--department",
        help="--role department：密钥所属的承办单位（可用简称或原名，按单位表解析），只能看到和退回本单位的提案",
    )
    keys.add_argument(
        "--taxonomy", help="解析 --department 的单位表（默认：PROPOSAL_ROUTER_TAXONOMY 或 data/taxonomy.yaml）"
    )
    keys.add_argument("--prefix", help="revoke：密钥开头的字符，即 `keys list` 显示的前缀")
    keys.add_argument("--db", help=db_help)

    taxonomy = commands.add_parser("taxonomy", help="单位表：比较机构改革前后的两个单位表")
    taxonomy_actions = taxonomy.add_subparsers(dest="action", required=True, title="操作")
    diff = taxonomy_actions.add_parser("diff", help="列出新单位表相对旧单位表新增、更名、合并和撤销的单位")
    diff.add_argument("old", help="旧单位表 YAML")
    diff.add_argument("new", help="新单位表 YAML（前身名称写在 former_names）")

    final = commands.add_parser("assignments", help="导出复核后的最终交办清单（交办清单、不予立案、待复核、汇总）")
    final.add_argument("--db", help=db_help)
    final.add_argument("--output", required=True, help="写入的 XLSX 工作簿")
    final.add_argument(
        "--split-by-department", metavar="DIR", help="另为每个单位写一个工作簿（主办和协办），放在此目录"
    )
    final.add_argument("--since", type=_moment, help="只含此时刻起收到的提案（如 2027-01-01，本地时间）")
    final.add_argument("--until", type=_moment, help="只含此时刻前收到的提案（不含此刻）")

    compare = commands.add_parser(
        "compare",
        parents=[columns],
        help="换模型之前：新旧两个模型在同一份已标注数据上的对比（准确率、自动交办、变化的提案）",
    )
    compare.add_argument("--model", required=True, help="新模型目录")
    compare.add_argument("--against", required=True, help="现用模型目录")
    compare.add_argument(
        "--data", required=True, nargs="+", metavar="FILE", help="已标注的数据（CSV、XLSX、XLS 或 JSONL），可给多个文件"
    )
    compare.add_argument("--out", required=True, help="对比报告（report.md、compare.xlsx、metrics.json）写入的目录")
    compare.add_argument("--threads", type=int, help="推理线程数（默认：全部核心）")
    compare.add_argument("--encoder", choices=["fp32", "int8"], help="使用的导出编码器（默认：各模型指定的）")

    audit_labels = commands.add_parser(
        "audit-labels", parents=[columns], help="重新训练之前：找出上一年度交办结果中疑似交办错的提案"
    )
    audit_labels.add_argument(
        "--data", required=True, nargs="+", metavar="FILE", help="最终交办结果（CSV、XLSX、XLS 或 JSONL），可给多个文件"
    )
    audit_labels.add_argument("--out", required=True, help="疑似错标清单（XLSX）和报告写入的目录")
    add_flags(audit_labels.add_argument_group("训练设置（TrainConfig，同 train）"), TrainConfig, FLAGS)

    database = commands.add_parser("db", help="把数据库升级到最新结构（serve 启动时也会升级）")
    database.add_argument("action", choices=["upgrade"], help="升级")
    database.add_argument("--db", help=db_help)
    return parser


HANDLERS = {
    "train": _train,
    "evaluate": _evaluate,
    "route": _route,
    "predict": _predict,
    "export": _export,
    "serve": _serve,
    "taxonomy": _taxonomy_command,
    "keys": _keys,
    "assignments": _assignments,
    "compare": _compare,
    "audit-labels": _audit_labels,
    "db": _db,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 when done, 2 for the user's mistakes (`ProposalRouterError`, a training command without the
    training extra); anything else is a bug and ends in its traceback."""
    with chinese():  # argparse's own words ("usage:", its errors) in Chinese too
        args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:  # the environment's PROPOSAL_ROUTER_* variables
        for error in exc.errors():
            name = f"PROPOSAL_ROUTER_{'_'.join(map(str, error['loc'])).upper()}"
            print(f"错误：环境变量 {name} 的值 {error.get('input')!r} 不可用：{error['msg']}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        HANDLERS[args.command](args, settings)
    except ProposalRouterError as exc:
        print(f"错误：{exc.describe(option_flag)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in TRAINING_PACKAGES:
            raise
        print(f"错误：{args.command} 命令需要训练用的依赖包（缺少 {exc.name}）：{TRAIN_EXTRA}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
