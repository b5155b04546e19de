//! `crm`: the command-line face of crm-core.
//!
//! Exit codes: 0 ok, 2 bad input (invalid data, unknown ids, wrong files),
//! 1 anything else. Errors go to standard error as one line plus context.

/// `println!` that treats a closed standard output (`crm events | head`)
/// as the end of the output instead of a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(error) = writeln!(std::io::stdout().lock(), $($arg)*) {
            $crate::stdout_failed(&error);
        }
    }};
}

/// `print!` with the same handling as [`say!`].
macro_rules! say_part {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if let Err(error) = write!(out, $($arg)*).and_then(|()| out.flush()) {
            $crate::stdout_failed(&error);
        }
    }};
}

mod analytics;
mod demo;
mod html;
mod marketing;
mod plugin;
mod report;
mod rules;
mod setup;
mod show;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use crm_core::{Crm, Error, ImportKind, ImportOptions};

/// An embeddable CRM on one SQLite file.
#[derive(Debug, Parser)]
#[command(
    name = "crm",
    version,
    about = "An embeddable CRM on one SQLite file: parties, relationships, interactions, search and a change feed",
    long_about = None,
    after_help = "Start with `crm demo`, then explore the database it prints with `crm --db PATH party list`."
)]
struct Cli {
    /// The database file.
    #[arg(long, global = true, env = "CRM_DB", value_name = "PATH")]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// The column reference shown by `crm import --help`.
const IMPORT_COLUMNS: &str = "\
Columns are found by header name (JSON Lines: by key; lists may be arrays).

parties:        name (required), kind (person | organization), external_id (system:value; several
                separated by ;), roles, tags (;-separated), stage, owner (id or system:value),
                language, currency, notes, email, phone, mobile, fax, wechat, web, address,
                country (for national phone numbers), consent (purposes granted, ;-separated),
                field.<name> for each custom field. A known external id updates that party.
relationships:  from, to (id or system:value), kind (e.g. subsidiary-of, employee-of), role,
                since, until (YYYY-MM-DD). The same from, kind, to and since updates the edge.
interactions:   party, channel, direction, at (RFC 3339 or YYYY-MM-DD HH:MM[:SS] UTC), subject,
                body, outcome, owner, link_entity, link_id, external_id (makes re-imports no-ops).
products:       sku (required), name_en (or name), name_zh, category, unit_cost + cost_currency,
                price.<CUR> per currency (e.g. price.CNY). A known SKU updates the product.
orders:         one row per line item: order (external id, required), party, currency, ordered_at,
                status (draft | confirmed | shipped | delivered; default confirmed), owner,
                price_list, line (default: row order within the order), sku, quantity,
                unit_price (default: price list or list price), discount (percent).
opportunities:  external_id, party, pipeline, title, amount, currency, expected_close
                (YYYY-MM-DD), owner, stage, status (open | won | lost), reason (close reason).
cases:          external_id, party, type, priority, channel, subject, description, category,
                assignee, sla_policy, tier, opened_at, status, first_response_at, satisfaction
                (1-5), churn_reason.
fx-rates:       base, quote (ISO 4217), date (YYYY-MM-DD), rate (quote units per base unit).

By default any invalid row means nothing is written; every bad row is listed as line, column
and reason. Exit code 2 when rows were invalid and nothing was imported.";

/// The format `crm setup` reads, shown by `crm setup --help`.
const SETUP_HELP: &str = r#"The file is one JSON object; every key is optional and everything is saved in one transaction:

{
  "calendars": [{ "code": "cn", "time_zone": "Asia/Shanghai",
                  "weekdays": ["09:00-12:00", "13:00-18:00"], "hours": { "sat": ["09:00-12:00"] },
                  "holidays": ["2026-10-01"], "working_days": ["2026-10-10"] }],
  "sla_policies": [{ "code": "default", "name": "Standard", "calendar": "cn",
                     "targets": [{ "priority": "high", "tier": "gold",
                                   "first_response_minutes": 30, "resolution_minutes": 240 }] }],
  "pipelines": [{ "code": "b2b", "name": "B2B",
                  "stages": [{ "code": "qualify", "name_en": "Qualify", "name_zh": "资格确认", "probability": 10 }] }],
  "price_lists": [{ "code": "dealer", "name": "Dealer", "currency": "CNY",
                    "valid_from": "2026-01-01", "prices": { "AC-1200": "2500.00" } }]
}

Saving a code that exists replaces it. The SLA policy `default` applies to cases opened without one."#;

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an empty database (or upgrade an existing one).
    Init,
    /// Import parties, relationships, interactions, products, orders, opportunities or cases
    /// from CSV or JSON Lines.
    #[command(after_help = IMPORT_COLUMNS)]
    Import {
        /// What the file holds.
        kind: Kind,
        /// The file (`.csv`, or `.jsonl` / `.ndjson` for JSON Lines).
        file: PathBuf,
        /// Write valid rows and skip invalid ones (default: all or nothing).
        #[arg(long)]
        skip_invalid: bool,
        /// Write the invalid rows, with the reason, to this CSV file.
        #[arg(long, value_name = "OUT.csv")]
        errors: Option<PathBuf>,
        /// Read header FROM as column TO (repeatable), e.g. --map "E-Mail=email".
        #[arg(long = "map", value_name = "FROM=TO")]
        column_map: Vec<String>,
        /// Country of national phone numbers (ISO 3166 alpha-2, e.g. CN).
        #[arg(long)]
        country: Option<String>,
        /// Rows per committed batch with --skip-invalid.
        #[arg(long, default_value_t = 10_000)]
        batch_size: usize,
    },
    /// Full-text search over names, notes and interactions.
    Search {
        /// Words to find (Chinese needs no spaces).
        text: String,
        /// Most results to show.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Results to skip.
        #[arg(long, default_value_t = 0)]
        offset: u64,
    },
    /// Look at parties.
    Party {
        #[command(subcommand)]
        command: PartyCommand,
    },
    /// Read the change feed.
    Events {
        /// Show events after this sequence number.
        #[arg(long, default_value_t = 0)]
        since: i64,
        /// Most events to show.
        #[arg(long, default_value_t = 100)]
        limit: u64,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// List likely duplicate parties.
    Duplicates {
        /// Most pairs to show.
        #[arg(long, default_value_t = 50)]
        limit: u64,
        /// Only pairs with this reason: email, phone or name.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Merge party ABSORB into party KEEP (ids or system:value external ids).
    Merge {
        /// The surviving party.
        keep: String,
        /// The party merged into it.
        absorb: String,
    },
    /// Undo the merge of party ABSORBED into the party it was merged into.
    Unmerge {
        /// The party that was absorbed (id or system:value external id).
        absorbed: String,
    },
    /// Write a consistent copy of the database to a new file.
    Backup {
        /// The new file (must not exist).
        out: PathBuf,
    },
    /// Print everything held on a party as JSON.
    ExportParty {
        /// Party id or system:value external id.
        party: String,
    },
    /// Save pipelines, working calendars, SLA policies and price lists from a JSON file.
    #[command(after_help = SETUP_HELP)]
    Setup {
        /// The JSON document (see below).
        file: PathBuf,
    },
    /// Print a sales or service report.
    Report {
        /// pipeline, forecast, sla or kpi.
        report: ReportKind,
        /// Period: 2026, 2026-Q3, 2026-07 or START..END (default: the current quarter).
        #[arg(long)]
        period: Option<String>,
        /// Convert money into this currency (required for kpi).
        #[arg(long)]
        currency: Option<String>,
        /// Language of headings and labels: en or zh-CN.
        #[arg(long, default_value = "en")]
        lang: String,
        /// Pipeline code (pipeline report; default: every pipeline).
        #[arg(long)]
        pipeline: Option<String>,
        /// Report as at the end of this day (YYYY-MM-DD): the day FX rates are taken for
        /// and the moment SLA breaches are measured at (default: now).
        #[arg(long, value_name = "DATE")]
        as_of: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Also write a self-contained HTML page with charts (clv, rfm, profit, churn).
        #[arg(long, value_name = "FILE.html")]
        html: Option<PathBuf>,
    },
    /// Type-check rule conditions against this database's features.
    Rule {
        #[command(subcommand)]
        command: RuleCommand,
    },
    /// Segments: dynamic (a CEL condition) or fixed lists.
    Segment {
        #[command(subcommand)]
        command: SegmentCommand,
    },
    /// Campaigns: plan, run (control group held back), report against control.
    Campaign {
        #[command(subcommand)]
        command: CampaignCommand,
    },
    /// WebAssembly plugins: install, list, grant, revoke, call, uninstall.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Loyalty programmes, balances and ledgers.
    Loyalty {
        #[command(subcommand)]
        command: LoyaltyCommand,
    },
    /// Run the work that is due: segment maintenance, SLA escalations, scheduled rules,
    /// loyalty expiry and tier reviews.
    Tick {
        /// The time to run as (RFC 3339; default: now).
        #[arg(long)]
        now: Option<String>,
    },
    /// Set every customer's lifecycle stage from their orders (new, growing, stable,
    /// declining, churned, won back; prospects without orders).
    Lifecycle {
        /// Currency revenue is compared in.
        #[arg(long, default_value = "CNY")]
        currency: String,
        /// The day to judge from (default: today).
        #[arg(long, value_name = "DATE")]
        as_of: Option<String>,
    },
    /// Fit BG/NBD and Gamma-Gamma on the orders and store each customer's clv, p_alive
    /// and expected_purchases scores.
    Score {
        /// Currency of the amounts.
        #[arg(long, default_value = "CNY")]
        currency: String,
    },
    /// Fit a customer-base model by maximum likelihood and print its parameters.
    Fit {
        /// The model.
        model: analytics::Model,
        /// A transaction log (CSV with a header); without it, the orders in --db.
        #[arg(long, value_name = "FILE.csv")]
        transactions: Option<PathBuf>,
        /// A per-customer summary (CSV: frequency, recency, T or periods, [monetary], [weights]).
        #[arg(long, value_name = "FILE.csv", conflicts_with = "transactions")]
        summary: Option<PathBuf>,
        /// Customer column of the transaction log.
        #[arg(long, default_value = "customer")]
        customer_col: String,
        /// Date column of the transaction log (YYYY-MM-DD or YYYYMMDD).
        #[arg(long, default_value = "date")]
        date_col: String,
        /// Amount column of the transaction log (needed for gamma-gamma).
        #[arg(long)]
        amount_col: Option<String>,
        /// Time unit of recency and T: week (days / 7) or day.
        #[arg(long, default_value = "week")]
        period: String,
        /// Last day of the calibration period; later transactions are not fitted.
        #[arg(long, value_name = "DATE")]
        calibration_end: Option<String>,
        /// Last day of the observation period (default: the last transaction).
        #[arg(long, value_name = "DATE")]
        observation_end: Option<String>,
        /// L2 penalty on the parameters (as in Python lifetimes).
        #[arg(long, default_value_t = 0.0)]
        penalizer: f64,
        /// Currency of amounts when fitting on the database's orders.
        #[arg(long)]
        currency: Option<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Build a demo database with a realistic generated data set and tour it.
    Demo {
        /// Number of person customers to generate.
        #[arg(long, default_value_t = 2_500)]
        people: usize,
        /// Seed of the generator.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
enum RuleCommand {
    /// Check a rules file (one `name: condition` per line) or one condition.
    Check {
        /// The rules file.
        file: Option<PathBuf>,
        /// One condition instead of a file.
        #[arg(long)]
        expr: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum CampaignCommand {
    /// Plan a campaign on a segment.
    Create(Box<marketing::CampaignArgs>),
    /// Enrol the segment's members and send to the treatment group.
    Run {
        /// The campaign.
        name: String,
    },
    /// Response, conversion, revenue, cost, ROI and uplift against control.
    Report {
        /// The campaign.
        name: String,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// List campaigns.
    List,
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Install a component with its manifest, granting capabilities.
    Install {
        /// The component (FILE.wasm).
        component: PathBuf,
        /// Its plugin.toml.
        #[arg(long)]
        manifest: PathBuf,
        /// Capabilities to grant (comma-separated: parties.read, cases.write, …).
        #[arg(long, value_delimiter = ',')]
        grant: Vec<String>,
    },
    /// List installed plugins with their grants.
    List,
    /// Grant capabilities.
    Grant {
        /// The plugin.
        name: String,
        /// Capabilities, comma-separated.
        #[arg(value_delimiter = ',')]
        capabilities: Vec<String>,
    },
    /// Withdraw capabilities.
    Revoke {
        /// The plugin.
        name: String,
        /// Capabilities, comma-separated.
        #[arg(value_delimiter = ',')]
        capabilities: Vec<String>,
    },
    /// Call a command with JSON arguments.
    Call {
        /// The plugin.
        name: String,
        /// The command.
        command: String,
        /// Arguments (JSON).
        #[arg(long, default_value = "{}")]
        json: String,
    },
    /// Remove a plugin.
    Uninstall {
        /// The plugin.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum LoyaltyCommand {
    /// Create a programme.
    Create(marketing::ProgramArgs),
    /// A member's balance and tier.
    Balance {
        /// The party (id or system:value).
        party: String,
        /// The programme (default: the first).
        #[arg(long)]
        program: Option<String>,
    },
    /// A member's ledger with the running balance.
    History {
        /// The party (id or system:value).
        party: String,
        /// The programme (default: the first).
        #[arg(long)]
        program: Option<String>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum SegmentCommand {
    /// Create a segment from a condition or a list of parties.
    Create {
        /// Name.
        name: String,
        /// The CEL condition.
        #[arg(long, conflicts_with = "members")]
        condition: Option<String>,
        /// Members of a fixed list (ids or system:value), comma-separated.
        #[arg(long, value_delimiter = ',')]
        members: Vec<String>,
    },
    /// List segments with their sizes.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Re-evaluate one dynamic segment (or all) over the whole base.
    Refresh {
        /// The segment (default: every dynamic one).
        name: Option<String>,
    },
    /// List a segment's members.
    Members {
        /// The segment.
        name: String,
        /// Members to skip.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// Most members to show.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
}

#[derive(Debug, Subcommand)]
enum PartyCommand {
    /// List parties, oldest first, with optional filters.
    List {
        /// Only parties holding this role today (customer, prospect, …).
        #[arg(long)]
        role: Option<String>,
        /// Only parties in this lifecycle stage.
        #[arg(long)]
        stage: Option<String>,
        /// Only parties with this tag.
        #[arg(long)]
        tag: Option<String>,
        /// Only persons or only organizations.
        #[arg(long)]
        kind: Option<String>,
        /// Most parties to show.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Parties to skip.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Show one party by id or system:value external id.
    Show {
        /// Party id or system:value external id.
        party: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    Parties,
    Relationships,
    Interactions,
    Products,
    Orders,
    Opportunities,
    Cases,
    FxRates,
}

/// The reports of `crm report`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ReportKind {
    /// Open pipeline per stage with conversion rates.
    Pipeline,
    /// Weighted forecast by owner and month.
    Forecast,
    /// SLA performance per priority, and cases breaching now.
    Sla,
    /// Salesperson KPIs.
    Kpi,
    /// RFM segment sizes of the customers with orders.
    Rfm,
    /// Top customers by 12-month CLV (BG/NBD + Gamma-Gamma fitted on the orders).
    Clv,
    /// Concentration of margin over customers, and the value of a 5 % cut in churn.
    Profit,
    /// Why the customers who churned in the period left.
    Churn,
    /// Key-account scorecard: value, margin, growth, CLV, service load, contacts, risk.
    KeyAccounts,
}

impl From<Kind> for ImportKind {
    fn from(kind: Kind) -> ImportKind {
        match kind {
            Kind::Parties => ImportKind::Parties,
            Kind::Relationships => ImportKind::Relationships,
            Kind::Interactions => ImportKind::Interactions,
            Kind::Products => ImportKind::Products,
            Kind::Orders => ImportKind::Orders,
            Kind::Opportunities => ImportKind::Opportunities,
            Kind::Cases => ImportKind::Cases,
            Kind::FxRates => ImportKind::FxRates,
        }
    }
}

/// A failure with the exit code it maps to and optional context.
#[derive(Debug)]
pub(crate) struct Failure {
    code: u8,
    message: String,
    context: Vec<String>,
}

impl Failure {
    pub(crate) fn usage(message: impl Into<String>) -> Failure {
        Failure { code: 2, message: message.into(), context: Vec::new() }
    }

    pub(crate) fn failed(message: impl Into<String>) -> Failure {
        Failure { code: 1, message: message.into(), context: Vec::new() }
    }

    pub(crate) fn context(mut self, line: impl Into<String>) -> Failure {
        self.context.push(line.into());
        self
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        let code = match error {
            Error::Storage(_) | Error::Internal(_) => 1,
            _ => 2,
        };
        Failure { code, message: error.to_string(), context: Vec::new() }
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Failure {
        Failure { code: 1, message: error.to_string(), context: Vec::new() }
    }
}

pub(crate) type CliResult<T = ()> = Result<T, Failure>;

/// Standard output failed: a reader that went away (a closed pipe) ends the
/// program quietly; anything else is an error.
pub(crate) fn stdout_failed(error: &std::io::Error) -> ! {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: cannot write to standard output: {error}");
    std::process::exit(1);
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            for line in failure.context {
                eprintln!("  {line}");
            }
            ExitCode::from(failure.code)
        }
    }
}

fn run(cli: Cli) -> CliResult {
    if let Command::Demo { people, seed } = cli.command {
        return demo::run(cli.db.as_deref(), people, seed);
    }
    if let Command::Fit {
        model,
        transactions,
        summary,
        customer_col,
        date_col,
        amount_col,
        period,
        calibration_end,
        observation_end,
        penalizer,
        currency,
        json,
    } = cli.command
    {
        let args = analytics::FitArgs {
            model,
            transactions,
            summary,
            customer_col,
            date_col,
            amount_col,
            period,
            calibration_end,
            observation_end,
            penalizer,
            currency,
            json,
        };
        return analytics::fit(cli.db.as_deref(), &args);
    }
    let Some(db) = cli.db else {
        return Err(Failure::usage("no database given: pass --db PATH (or set CRM_DB)"));
    };
    if let Command::Init = cli.command {
        let crm = Crm::open(&db)
            .map_err(|e| Failure::from(e).context(format!("opening {}", db.display())))?;
        let n = crm.read(|tx| tx.count_parties())?;
        say!(
            "{}: crm database, schema version {}, {n} parties",
            db.display(),
            crm_core::SCHEMA_VERSION
        );
        return Ok(());
    }
    let crm = open_existing(&db)?;
    match cli.command {
        Command::Init | Command::Demo { .. } | Command::Fit { .. } => Ok(()),
        Command::Import { kind, file, skip_invalid, errors, column_map, country, batch_size } => {
            let mut options = ImportOptions::default().batch_size(batch_size);
            if skip_invalid {
                options = options.skip_invalid();
            }
            for pair in &column_map {
                let Some((from, to)) = pair.split_once('=') else {
                    return Err(Failure::usage(format!("--map `{pair}` is not FROM=TO")));
                };
                options = options.map_column(from, to);
            }
            if let Some(country) = country {
                options = options.default_country(country);
            }
            import(&crm, kind.into(), &file, &options, errors.as_deref())
        }
        Command::Search { text, limit, offset } => show::search(&crm, &text, offset, limit),
        Command::Setup { file } => setup::run(&crm, &file),
        Command::Rule { command: RuleCommand::Check { file, expr } } => {
            rules::check(&crm, file.as_deref(), expr.as_deref())
        }
        Command::Segment { command } => match command {
            SegmentCommand::Create { name, condition, members } => {
                rules::create(&crm, &name, condition.as_deref(), &members)
            }
            SegmentCommand::List { json } => rules::list(&crm, json),
            SegmentCommand::Refresh { name } => rules::refresh(&crm, name.as_deref()),
            SegmentCommand::Members { name, offset, limit } => {
                rules::members(&crm, &name, offset, limit)
            }
        },
        Command::Tick { now } => rules::tick(&crm, now.as_deref()),
        Command::Campaign { command } => match command {
            CampaignCommand::Create(args) => marketing::create_campaign(&crm, *args),
            CampaignCommand::Run { name } => marketing::run_campaign(&crm, &name),
            CampaignCommand::Report { name, json } => marketing::report_campaign(&crm, &name, json),
            CampaignCommand::List => marketing::list_campaigns(&crm),
        },
        Command::Plugin { command } => match command {
            PluginCommand::Install { component, manifest, grant } => {
                plugin::install(&crm, &component, &manifest, &grant)
            }
            PluginCommand::List => plugin::list(&crm),
            PluginCommand::Grant { name, capabilities } => {
                plugin::grant(&crm, &name, &capabilities, false)
            }
            PluginCommand::Revoke { name, capabilities } => {
                plugin::grant(&crm, &name, &capabilities, true)
            }
            PluginCommand::Call { name, command, json } => {
                plugin::call(&crm, &name, &command, &json)
            }
            PluginCommand::Uninstall { name } => plugin::uninstall(&crm, &name),
        },
        Command::Loyalty { command } => match command {
            LoyaltyCommand::Create(args) => marketing::create_program(&crm, args),
            LoyaltyCommand::Balance { party, program } => {
                marketing::balance(&crm, &party, program.as_deref())
            }
            LoyaltyCommand::History { party, program, json } => {
                marketing::history(&crm, &party, program.as_deref(), json)
            }
        },
        Command::Score { currency } => {
            analytics::store_scores(&crm, crm_core::Currency::new(&currency)?)
        }
        Command::Lifecycle { currency, as_of } => {
            let today = match as_of {
                Some(text) => {
                    chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
                        Failure::usage(format!("--as-of `{text}` is not a date (YYYY-MM-DD)"))
                    })?
                }
                None => crm.now().date_naive(),
            };
            analytics::assign_stages(&crm, crm_core::Currency::new(&currency)?, today)
        }
        Command::Report { report, period, currency, lang, pipeline, as_of, json, html } => {
            let mut options =
                report::Options::parse(&crm, period, currency, &lang, pipeline, as_of, json)?;
            options.html = html;
            report::run(&crm, report, &options)
        }
        Command::Party { command: PartyCommand::Show { party, json } } => {
            show::party(&crm, &party, json)
        }
        Command::Party {
            command: PartyCommand::List { role, stage, tag, kind, limit, offset, json },
        } => {
            let mut filter = crm_core::PartyFilter::default().page(offset, limit);
            if let Some(role) = role {
                filter = filter.role(crm_core::Role::from_code(&role)?);
            }
            if let Some(stage) = stage {
                filter = filter.stage(crm_core::LifecycleStage::from_code(&stage)?);
            }
            if let Some(tag) = tag {
                filter = filter.tag(tag);
            }
            if let Some(kind) = kind {
                filter = filter.kind(crm_core::PartyKind::from_code(&kind)?);
            }
            show::party_list(&crm, &filter, json)
        }
        Command::Events { since, limit, json } => show::events(&crm, since, limit, json),
        Command::Duplicates { limit, reason } => {
            let reason = reason.map(|r| crm_core::DuplicateReason::from_code(&r)).transpose()?;
            show::duplicates(&crm, limit, reason)
        }
        Command::Merge { keep, absorb } => {
            let report = crm.write_as("cli", |tx| {
                let keep = tx.resolve_party(&keep)?;
                let absorb = tx.resolve_party(&absorb)?;
                tx.merge(keep.id, absorb.id)
            })?;
            say!(
                "merged {} into {}: moved {} contact points, {} relationships, {} interactions, {} tasks, {} external ids",
                report.absorbed,
                report.kept,
                report.contact_points,
                report.relationships,
                report.interactions,
                report.tasks,
                report.external_ids
            );
            Ok(())
        }
        Command::Unmerge { absorbed } => {
            let party = crm.write_as("cli", |tx| {
                let absorbed = tx.resolve_party(&absorbed)?;
                tx.unmerge(absorbed.id)
            })?;
            say!("{} ({}) is a party of its own again", party.name, party.id);
            Ok(())
        }
        Command::Backup { out } => {
            crm.backup_to(&out)?;
            say!("{}: backup written", out.display());
            Ok(())
        }
        Command::ExportParty { party } => {
            let doc = crm.read(|tx| {
                let party = tx.resolve_party(&party)?;
                tx.export_party(party.id)
            })?;
            say!(
                "{}",
                serde_json::to_string_pretty(&doc).map_err(|e| Failure::usage(e.to_string()))?
            );
            Ok(())
        }
    }
}

pub(crate) fn open_existing(db: &Path) -> CliResult<Crm> {
    Crm::builder().actor("cli").must_exist().open(db).map_err(|error| {
        let hint = if matches!(error, Error::NotFound { .. }) {
            format!("create it with: crm --db {} init", db.display())
        } else {
            format!("opening {}", db.display())
        };
        Failure::from(error).context(hint)
    })
}

fn import(
    crm: &Crm,
    kind: ImportKind,
    file: &Path,
    options: &ImportOptions,
    errors_out: Option<&Path>,
) -> CliResult {
    let total = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let report = crm
        .import_file(kind, file, options, &mut |progress| {
            bar.set_position(progress.bytes_read);
            bar.set_message(format!(
                "{} rows, {} invalid, {} committed",
                progress.rows_read, progress.rows_invalid, progress.rows_committed
            ));
        })
        .map_err(|e| {
            Failure::from(e).context(format!("importing {} from {}", kind.code(), file.display()))
        })?;
    bar.finish_and_clear();
    if let Some(out) = errors_out {
        report.write_errors_csv(out)?;
    }
    say!(
        "{}: {} rows read, {} created, {} updated, {} unchanged, {} invalid{}",
        file.display(),
        report.rows_read,
        report.created,
        report.updated,
        report.unchanged,
        report.errors.len(),
        if report.committed { "" } else { " — nothing written" }
    );
    if report.errors.is_empty() {
        return Ok(());
    }
    for error in report.errors.iter().take(20) {
        eprintln!("  {error}");
    }
    if report.errors.len() > 20 {
        eprintln!("  … and {} more", report.errors.len() - 20);
    }
    if let Some(out) = errors_out {
        eprintln!("  invalid rows written to {}", out.display());
    }
    if report.committed {
        Ok(())
    } else {
        Err(Failure::usage(format!("{} invalid rows; nothing was imported", report.errors.len()))
            .context("fix the rows, or pass --skip-invalid to import the valid ones"))
    }
}
