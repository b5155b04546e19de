//! `crm campaign …` and `crm loyalty …`.

use crm_core::{Crm, Currency, Money, NewCampaign, NewLoyaltyProgram};

use crate::show::to_json;
use crate::{CliResult, Failure};

/// What `crm campaign create` takes.
#[derive(Debug, clap::Args)]
pub(crate) struct CampaignArgs {
    /// Name.
    pub name: String,
    /// The target segment.
    #[arg(long)]
    pub segment: String,
    /// Contact kind messages go to (email, mobile, wechat, …).
    #[arg(long, default_value = "email")]
    pub channel: String,
    /// The message ({name}, {stage}, {field.x|fallback}, {score.x}).
    #[arg(long)]
    pub template: String,
    /// More variants, NAME:LANG:TEMPLATE (LANG may be empty).
    #[arg(long = "variant")]
    pub variants: Vec<String>,
    /// Currency of budget, cost and revenue.
    #[arg(long, default_value = "CNY")]
    pub currency: String,
    /// Share held back as control, 0..1.
    #[arg(long, default_value_t = 0.1)]
    pub control: f64,
    /// Seed of the control-group draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Budget (major units).
    #[arg(long)]
    pub budget: Option<String>,
    /// Cost of one message (major units).
    #[arg(long, default_value = "0")]
    pub cost: String,
    /// Attribution window in days.
    #[arg(long, default_value_t = 30)]
    pub window: i64,
    /// What it is for.
    #[arg(long, default_value = "")]
    pub objective: String,
}

pub(crate) fn create_campaign(crm: &Crm, args: CampaignArgs) -> CliResult {
    let currency = Currency::new(&args.currency)?;
    if !(0.0..=1.0).contains(&args.control) {
        return Err(Failure::usage(format!("--control {} is not a share in 0..1", args.control)));
    }
    let channel = crm_core::ContactKind::from_code(&args.channel)?;
    let mut plan = NewCampaign::new(&args.name, &args.segment, channel, currency, &args.template)
        .with_control((args.control * 10_000.0).round() as u32, args.seed)
        .with_window(args.window)
        .with_objective(&args.objective);
    let cost = Money::parse(&args.cost, currency)?;
    plan = match &args.budget {
        Some(budget) => plan.with_budget(Money::parse(budget, currency)?, cost),
        None => NewCampaign { cost_per_message: cost, ..plan },
    };
    for variant in &args.variants {
        // NAME:LANG:TEMPLATE (LANG may be empty).
        let mut parts = variant.splitn(3, ':');
        let (Some(name), Some(lang), Some(template)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(Failure::usage(format!("--variant `{variant}` is not NAME:LANG:TEMPLATE")));
        };
        plan = plan.with_variant(name, (!lang.is_empty()).then_some(lang), template);
    }
    crm.write(|tx| tx.create_campaign(plan))?;
    say!("campaign {} created on segment {}", args.name, args.segment);
    Ok(())
}

pub(crate) fn run_campaign(crm: &Crm, name: &str) -> CliResult {
    let run = crm.write(|tx| tx.run_campaign(name))?;
    say!(
        "campaign {name}: {} enrolled ({} control), {} queued, {} suppressed, {} over budget",
        run.enrolled,
        run.control,
        run.queued,
        run.suppressed,
        run.over_budget
    );
    Ok(())
}

pub(crate) fn report_campaign(crm: &Crm, name: &str, json: bool) -> CliResult {
    let r = crm.read(|tx| tx.campaign_report(name))?;
    if json {
        say!("{}", to_json(&r)?);
        return Ok(());
    }
    say!("campaign {} ({})", r.name, r.status);
    say!("  reach {}  suppressed {}  cost {}", r.reach, r.suppressed, r.cost);
    say!(
        "  {:<10} {:>8} {:>10} {:>10} {:>14}",
        "group",
        "members",
        "response",
        "conversion",
        "revenue"
    );
    for (label, g) in [("treatment", &r.treatment), ("control", &r.control)] {
        say!(
            "  {:<10} {:>8} {:>9.1}% {:>9.1}% {:>14}",
            label,
            g.members,
            g.response_rate * 100.0,
            g.conversion_rate * 100.0,
            g.revenue.to_string()
        );
    }
    say!(
        "  uplift {:+.1} points (95% CI {:+.1} to {:+.1}), incremental revenue {}, ROI {}",
        r.uplift * 100.0,
        r.uplift_ci.0 * 100.0,
        r.uplift_ci.1 * 100.0,
        r.incremental_revenue,
        r.roi.map_or_else(|| "n/a".to_owned(), |roi| format!("{:.0}%", roi * 100.0))
    );
    Ok(())
}

pub(crate) fn list_campaigns(crm: &Crm) -> CliResult {
    for (c, status) in crm.read(|tx| tx.campaigns())? {
        say!(
            "{:<24} {:<8} segment {:<20} control {:.0}%",
            c.name,
            status,
            c.segment,
            f64::from(c.control_bp) / 100.0
        );
    }
    Ok(())
}

/// What `crm loyalty create` takes.
#[derive(Debug, clap::Args)]
pub(crate) struct ProgramArgs {
    /// Name.
    pub name: String,
    /// Earn formula (CEL, int), e.g. `floor(order.total / 10.0)`.
    #[arg(long)]
    pub earn: String,
    /// Currency of order.total.
    #[arg(long, default_value = "CNY")]
    pub currency: String,
    /// Tiers, NAME=POINTS, ascending, the first at 0.
    #[arg(long = "tier")]
    pub tiers: Vec<String>,
    /// Days after which earned points expire.
    #[arg(long)]
    pub expiry_days: Option<i64>,
    /// Rolling window of the tier metric, days.
    #[arg(long, default_value_t = 365)]
    pub window_days: i64,
    /// Days between tier reviews.
    #[arg(long, default_value_t = 90)]
    pub review_days: i64,
}

pub(crate) fn create_program(crm: &Crm, args: ProgramArgs) -> CliResult {
    let mut program =
        NewLoyaltyProgram::new(&args.name, Currency::new(&args.currency)?, &args.earn)
            .reviewed(args.window_days, args.review_days);
    program.expiry_days = args.expiry_days;
    for tier in &args.tiers {
        let Some((name, threshold)) = tier.split_once('=') else {
            return Err(Failure::usage(format!("--tier `{tier}` is not NAME=POINTS")));
        };
        let threshold = threshold.trim().parse().map_err(|_| {
            Failure::usage(format!("--tier `{tier}`: `{threshold}` is not a number"))
        })?;
        program = program.with_tier(name.trim(), threshold);
    }
    crm.write(|tx| tx.create_loyalty_program(program))?;
    say!("loyalty programme {} created", args.name);
    Ok(())
}

fn program_or_default(crm: &Crm, program: Option<&str>) -> Result<String, Failure> {
    match program {
        Some(p) => Ok(p.to_owned()),
        None => crm
            .read(|tx| tx.loyalty_programs())?
            .into_iter()
            .next()
            .map(|p| p.name)
            .ok_or_else(|| Failure::usage("this database has no loyalty programme")),
    }
}

pub(crate) fn balance(crm: &Crm, party: &str, program: Option<&str>) -> CliResult {
    let program = program_or_default(crm, program)?;
    let party = crm.read(|tx| tx.resolve_party(party))?;
    let m = match crm.read(|tx| tx.loyalty_member(&program, party.id)) {
        Err(crm_core::Error::NotFound { entity: "loyalty member", .. }) => {
            say!("{} in {program}: 0 points, not a member yet", party.name);
            return Ok(());
        }
        other => other?,
    };
    say!(
        "{} in {program}: {} points, tier {} since {} ({} points earned in the tier window)",
        party.name,
        m.balance,
        if m.tier.is_empty() { "-" } else { &m.tier },
        m.since.format("%Y-%m-%d"),
        m.window_points
    );
    Ok(())
}

pub(crate) fn history(crm: &Crm, party: &str, program: Option<&str>, json: bool) -> CliResult {
    let program = program_or_default(crm, program)?;
    let party = crm.read(|tx| tx.resolve_party(party))?;
    let entries = crm.read(|tx| tx.loyalty_history(&program, party.id))?;
    if json {
        say!("{}", to_json(&entries)?);
        return Ok(());
    }
    let mut balance = 0;
    for e in entries {
        balance += e.points;
        say!(
            "{}  {:<7} {:>+8} {:>8}  {}",
            e.at.format("%Y-%m-%d %H:%M"),
            e.kind.code(),
            e.points,
            balance,
            e.reason.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
