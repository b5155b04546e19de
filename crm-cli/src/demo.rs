//! `crm demo`: a realistic generated data set and a short tour of it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use crm_core::{
    Channel, ContactKind, Crm, Decimal, Direction, FieldDef, FieldType, FieldValue, ImportKind,
    ImportOptions, LifecycleStage, NewContactPoint, NewInteraction, NewParty, NewRelationship,
    NewTask, PartyFilter, PartyId, Role,
};

use crate::{CliResult, Failure};

mod cdnow;
mod handover;
mod sales;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "建华", "志强", "晓东", "海燕", "子豪", "欣怡", "伟强",
    "丽娟",
];
const FIRST: &[&str] = &[
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Susan",
    "Richard",
    "Jessica",
    "Thomas",
    "Sarah",
    "Emma",
    "Oliver",
    "Sophia",
    "Lucas",
];
const LAST: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor",
    "Clark", "Lewis", "Walker", "Hall", "Allen", "Young", "King", "Wright", "Scott", "Green",
    "Baker",
];
const PINYIN: &[&str] = &[
    "wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun", "ma",
    "zhu", "hu", "guo", "he", "gao", "lin", "luo", "zheng", "liang", "xie", "song", "tang", "xu",
    "han", "feng", "deng", "cao",
];
const REGIONS: &[&str] = &[
    "华东", "华南", "华北", "西南", "长江", "珠江", "东方", "新城", "金桥", "海天", "恒信", "中原",
];
const TRADES: &[(&str, &str, &str)] = &[
    ("电器", "Appliances", "appliances"),
    ("地产", "Real Estate", "real_estate"),
    ("商贸", "Trading", "trading"),
    ("物业", "Property Services", "property"),
    ("家居", "Home Furnishing", "home"),
    ("建材", "Building Materials", "materials"),
    ("科技", "Technology", "technology"),
    ("物流", "Logistics", "logistics"),
];
const SUBJECTS: &[(&str, &str)] = &[
    ("咨询空调安装", "已安排上门安装"),
    ("空调不制冷报修", "已派工程师"),
    ("询问保养合同价格", "已发送报价"),
    ("投诉送货延迟", "已致歉并补偿优惠券"),
    ("新楼盘入伙时间咨询", "已告知入伙安排"),
    ("发票抬头更改", "已处理"),
    ("回访满意度", "非常满意"),
    ("Asked for a quote on 20 split units", "quote sent"),
    ("Complaint: installer was late", "apology and voucher"),
    ("Renewal of maintenance contract", "renewed for 2 years"),
    ("Trade fair follow-up", "meeting booked"),
    ("Question about invoice", "resolved"),
];

/// Channels with weights, in the proportions a consumer business sees.
const CHANNELS: &[(Channel, u32)] = &[
    (Channel::WeChat, 30),
    (Channel::Phone, 20),
    (Channel::CallCentre, 12),
    (Channel::Email, 12),
    (Channel::Sms, 8),
    (Channel::Web, 8),
    (Channel::Visit, 6),
    (Channel::Meeting, 2),
    (Channel::Fax, 1),
    (Channel::Letter, 1),
];

struct Generator {
    rng: fastrand::Rng,
}

impl Generator {
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.usize(..items.len())]
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.u32(..100) < percent
    }

    fn chinese_name(&mut self) -> (String, String) {
        let index = self.rng.usize(..SURNAMES.len());
        let given = *self.pick(GIVEN);
        (format!("{}{given}", SURNAMES[index]), PINYIN[index].to_owned())
    }

    fn english_name(&mut self) -> (String, String) {
        let first = *self.pick(FIRST);
        let last = *self.pick(LAST);
        (format!("{first} {last}"), format!("{}.{}", first.to_lowercase(), last.to_lowercase()))
    }

    fn mobile(&mut self) -> String {
        let prefix = self.pick(&["135", "136", "138", "139", "150", "158", "177", "186", "189"]);
        format!("{prefix} {:04} {:04}", self.rng.u32(..10_000), self.rng.u32(..10_000))
    }

    fn channel(&mut self) -> Channel {
        let total: u32 = CHANNELS.iter().map(|(_, w)| w).sum();
        let mut roll = self.rng.u32(..total);
        for (channel, weight) in CHANNELS {
            if roll < *weight {
                return *channel;
            }
            roll -= weight;
        }
        Channel::Other
    }

    fn money(&mut self, low: i64, high: i64) -> Decimal {
        Decimal::from_integer(self.rng.i64(low..high) * 1_000)
    }
}

struct Built {
    employees: Vec<PartyId>,
    groups: Vec<(PartyId, String)>,
    n_orgs: usize,
    n_relationships: usize,
    n_interactions: usize,
    n_tasks: usize,
    /// Past tasks to complete, and when (done on the simulated clock).
    done_tasks: Vec<(crm_core::TaskId, DateTime<Utc>)>,
}

pub(crate) fn run(db: Option<&Path>, people: usize, seed: u64) -> CliResult {
    let path = match db {
        Some(path) => {
            if path.exists() {
                return Err(Failure::usage(format!(
                    "{} exists; the demo writes a new database (choose another path or remove it)",
                    path.display()
                )));
            }
            path.to_owned()
        }
        None => {
            let path = default_path();
            for suffix in ["", "-wal", "-shm"] {
                let file = PathBuf::from(format!("{}{suffix}", path.display()));
                if file.exists() {
                    std::fs::remove_file(&file)?;
                }
            }
            path
        }
    };
    say!("crm demo: building a demo database at {}", path.display());
    let crm = Crm::builder().actor("demo").open(&path)?;
    let mut generator = Generator { rng: fastrand::Rng::with_seed(seed) };
    let now = Utc::now();

    let started = Instant::now();
    let built = build_organisations(&crm, &mut generator)?;
    let csv = people_csv(&mut generator, people, &built.employees);
    let csv_path = std::env::temp_dir().join(format!("crm-demo-people-{}.csv", std::process::id()));
    std::fs::write(&csv_path, csv)?;
    let import_started = Instant::now();
    let report =
        crm.import_file(ImportKind::Parties, &csv_path, &ImportOptions::default(), &mut |_| {})?;
    let import_secs = import_started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&csv_path);
    if !report.committed {
        return Err(Failure::usage(format!(
            "demo data did not import: {:?}",
            report.errors.first()
        )));
    }
    let built = connect_people(&crm, &mut generator, built, now)?;
    let sales_started = Instant::now();
    sales::create_loyalty_program(&crm)?;
    let sales = sales::build(&crm, &path, &mut generator, &built, now)?;
    say!(
        "  imported {} people from CSV in {:.2} s ({:.0} rows/s)",
        report.created,
        import_secs,
        report.created as f64 / import_secs.max(1e-9)
    );
    say!(
        "  created {} employees, {} organisations in {} groups, {} relationships, {} interactions, {} tasks ({:.1} s in all)",
        built.employees.len(),
        built.n_orgs,
        built.groups.len(),
        built.n_relationships,
        built.n_interactions,
        built.n_tasks,
        started.elapsed().as_secs_f64()
    );
    say!(
        "  created {} products, {} orders with {} lines in CNY and USD (imported from CSV), {} opportunities, {} service cases ({:.1} s)",
        crate::demo::sales::PRODUCT_COUNT,
        sales.orders,
        sales.order_lines,
        sales.opportunities,
        sales.cases,
        sales_started.elapsed().as_secs_f64()
    );
    tour(&crm, &built, now)?;
    sales::tour(&crm, &path, now)
}

fn default_path() -> PathBuf {
    std::env::temp_dir().join("crm-demo.db")
}

fn build_organisations(crm: &Crm, generator: &mut Generator) -> CliResult<Built> {
    let built = crm.write(|tx| {
        tx.define_field(FieldDef::new(
            "industry",
            FieldType::Enum(TRADES.iter().map(|(_, _, code)| (*code).to_owned()).collect()),
        ))?;
        tx.define_field(FieldDef::new("annual_revenue", FieldType::Decimal))?;
        tx.define_field(FieldDef::new("credit_limit", FieldType::Decimal))?;
        tx.define_field(FieldDef::new("vip_since", FieldType::Date))?;
        let mut employees = Vec::new();
        for n in 1..=16 {
            let (name, _) =
                if n % 4 == 0 { generator.english_name() } else { generator.chinese_name() };
            let id = tx
                .create_party(
                    NewParty::person(name)
                        .with_role(Role::Employee)
                        .with_external_id("emp", format!("E-{n:02}"))
                        .with_contact(ContactKind::Email, format!("sales{n:02}@crm-demo.example"))
                        .with_tag("sales"),
                )?
                .id;
            employees.push(id);
        }
        let mut groups = Vec::new();
        let mut n_orgs = 0;
        let mut n_relationships = 0;
        for g in 0..24 {
            let region = REGIONS[g % REGIONS.len()];
            let (trade, trade_en, industry) = TRADES[g % TRADES.len()];
            let name = format!("{region}{trade}集团");
            let group = org(tx, generator, &name, trade_en, industry, &employees, g)?;
            groups.push((group, name.clone()));
            n_orgs += 1;
            for s in 0..generator.rng.usize(2..6) {
                let city = generator
                    .pick(&["上海", "北京", "广州", "深圳", "成都", "杭州", "武汉", "南京"]);
                let child = org(
                    tx,
                    generator,
                    &format!("{name}{city}分公司"),
                    trade_en,
                    industry,
                    &employees,
                    s,
                )?;
                tx.relate(NewRelationship::new(child, "subsidiary-of", group))?;
                n_orgs += 1;
                n_relationships += 1;
                for b in 0..generator.rng.usize(0..3) {
                    let shop = org(
                        tx,
                        generator,
                        &format!("{name}{city}第{}门店", b + 1),
                        trade_en,
                        industry,
                        &employees,
                        b,
                    )?;
                    tx.relate(NewRelationship::new(shop, "subsidiary-of", child))?;
                    n_orgs += 1;
                    n_relationships += 1;
                }
            }
            if g % 3 == 0 {
                let distributor = org(
                    tx,
                    generator,
                    &format!("{region}{trade}经销有限公司"),
                    trade_en,
                    industry,
                    &employees,
                    g,
                )?;
                tx.add_role(distributor, Role::Distributor, tx.now().date_naive())?;
                tx.relate(NewRelationship::new(distributor, "distributor-for", group))?;
                n_orgs += 1;
                n_relationships += 1;
            }
        }
        Ok(Built {
            employees,
            groups,
            n_orgs,
            n_relationships,
            n_interactions: 0,
            n_tasks: 0,
            done_tasks: Vec::new(),
        })
    })?;
    Ok(built)
}

fn org(
    tx: &mut crm_core::Tx<'_>,
    generator: &mut Generator,
    name: &str,
    trade_en: &str,
    industry: &str,
    employees: &[PartyId],
    n: usize,
) -> crm_core::Result<PartyId> {
    let role = if generator.chance(80) { Role::Customer } else { Role::Partner };
    let party = NewParty::organization(name)
        .with_role(role)
        .with_stage(*generator.pick(&[
            LifecycleStage::New,
            LifecycleStage::Growing,
            LifecycleStage::Stable,
            LifecycleStage::Declining,
        ]))
        .with_owner(*generator.pick(employees))
        .with_language("zh-CN")
        .with_currency(crm_core::Currency::new("CNY")?)
        .with_field("industry", FieldValue::Enum(industry.to_owned()))
        .with_field("annual_revenue", generator.money(500, 50_000))
        .with_field("credit_limit", generator.money(50, 2_000))
        .with_external_id(
            "erp",
            format!("C-{:05}", generator.rng.u32(10_000..99_999) as usize * 10 + n % 10),
        )
        .with_contact_point(
            NewContactPoint::new(
                ContactKind::Phone,
                format!(
                    "021 {:04} {:04}",
                    generator.rng.u32(1000..9999),
                    generator.rng.u32(..10_000)
                ),
            )
            .with_country("CN"),
        )
        .with_contact(
            ContactKind::Web,
            format!("https://{}.example.cn", trade_en.to_lowercase().replace(' ', "-")),
        )
        .with_notes(format!(
            "{trade_en} — key account in the {} region",
            if n.is_multiple_of(2) { "east" } else { "south" }
        ));
    match tx.create_party(party.clone()) {
        Ok(created) => Ok(created.id),
        // A colliding random ERP number: try once more without it.
        Err(crm_core::Error::Conflict { .. }) => {
            let mut party = party;
            party.external_ids.clear();
            Ok(tx.create_party(party)?.id)
        }
        Err(other) => Err(other),
    }
}

fn people_csv(generator: &mut Generator, people: usize, employees: &[PartyId]) -> String {
    let mut csv = String::from(
        "external_id,name,kind,roles,stage,owner,language,currency,tags,email,mobile,wechat,country,consent,notes\n",
    );
    let mut planted = Vec::new();
    for n in 1..=people {
        let chinese = generator.chance(80);
        let (name, handle) =
            if chinese { generator.chinese_name() } else { generator.english_name() };
        let customer = generator.chance(70);
        let stage = if customer {
            generator.pick(&["new", "growing", "stable", "declining", "churned", "won-back"])
        } else {
            &"prospect"
        };
        let mobile = generator.mobile();
        let email = format!(
            "{handle}{n}@{}",
            generator.pick(&["qq.com", "163.com", "example.com", "gmail.com"])
        );
        let tags = [("vip", 8), ("wechat-fan", 25), ("new-home", 10)]
            .iter()
            .filter(|(_, p)| generator.chance(*p))
            .map(|(t, _)| *t)
            .collect::<Vec<_>>()
            .join(";");
        let consent = if generator.chance(60) { "marketing;service" } else { "service" };
        let notes = if generator.chance(10) { "偏好微信联系；周末方便" } else { "" };
        let owner = employees[n % employees.len()];
        let _ = writeln!(
            csv,
            "erp:P-{n:05},{name},person,{},{stage},{owner},{},{},{tags},{email},{mobile},{},CN,{consent},{notes}",
            if customer { "customer" } else { "prospect" },
            if chinese { "zh-CN" } else { "en" },
            if chinese { "CNY" } else { "USD" },
            if chinese && generator.chance(50) { format!("wx_{handle}{n}") } else { String::new() },
        );
        if n % 300 == 0 {
            planted.push((name, mobile));
        }
    }
    // Customers who registered twice (a typo in the name, the same phone).
    for (k, (name, mobile)) in planted.into_iter().enumerate() {
        let _ = writeln!(
            csv,
            "web:dup-{k},{name} ,person,customer,new,,zh-CN,CNY,,,{mobile},,CN,service,"
        );
    }
    csv
}

fn connect_people(
    crm: &Crm,
    generator: &mut Generator,
    mut built: Built,
    now: DateTime<Utc>,
) -> CliResult<Built> {
    let people: Vec<(PartyId, Option<PartyId>)> = crm.read(|tx| {
        let mut all = Vec::new();
        let mut offset = 0;
        loop {
            let page = tx.list_parties(
                &PartyFilter::default().kind(crm_core::PartyKind::Person).page(offset, 1_000),
            )?;
            if page.items.is_empty() {
                break;
            }
            offset += page.items.len() as u64;
            all.extend(
                page.items
                    .into_iter()
                    .filter(|p| !p.tags.contains(&"sales".to_owned()))
                    .map(|p| (p.id, p.owner)),
            );
        }
        Ok(all)
    })?;
    let orgs: Vec<PartyId> = crm.read(|tx| {
        Ok(tx
            .list_parties(
                &PartyFilter::default().kind(crm_core::PartyKind::Organization).page(0, 10_000),
            )?
            .items
            .into_iter()
            .map(|p| p.id)
            .collect())
    })?;
    crm.write(|tx| {
        for (index, (person, owner)) in people.iter().enumerate() {
            // Contact persons of organisations, households and referrals.
            if generator.chance(25) {
                let role = generator.pick(&[
                    "采购经理",
                    "总经理",
                    "财务",
                    "purchasing manager",
                    "facility manager",
                ]);
                tx.relate(
                    NewRelationship::new(*person, "employee-of", *generator.pick(&orgs))
                        .with_role(*role),
                )?;
                built.n_relationships += 1;
            }
            if index > 0 && generator.chance(6) {
                tx.relate(NewRelationship::new(*person, "household", people[index - 1].0))?;
                built.n_relationships += 1;
            }
            if index > 10 && generator.chance(8) {
                let referrer = people[generator.rng.usize(..index)].0;
                tx.relate(NewRelationship::new(*person, "referred-by", referrer))?;
                built.n_relationships += 1;
            }
            for _ in 0..generator.rng.usize(0..8) {
                let (subject, outcome) = *generator.pick(SUBJECTS);
                let at = now - Duration::minutes(generator.rng.i64(60..700 * 24 * 60));
                let direction =
                    if generator.chance(60) { Direction::Inbound } else { Direction::Outbound };
                let mut interaction =
                    NewInteraction::new(*person, generator.channel(), direction, at, subject);
                if generator.chance(70) {
                    interaction = interaction.with_outcome(outcome);
                }
                if let Some(owner) = owner {
                    interaction = interaction.with_owner(*owner);
                }
                tx.record_interaction(interaction)?;
                built.n_interactions += 1;
            }
        }
        for n in 0..400 {
            let (person, _) = people[generator.rng.usize(..people.len())];
            let assignee = built.employees[n % built.employees.len()];
            let due = now + Duration::hours(generator.rng.i64(-14 * 24..14 * 24));
            let title = *generator.pick(&[
                "回访客户",
                "发送保养报价",
                "确认入伙时间",
                "Follow up on quote",
                "Renewal call",
            ]);
            let task =
                tx.create_task(NewTask::new(title, due).about(person).assigned_to(assignee))?;
            if due < now && generator.chance(70) {
                // Most are done a little before they are due, some late.
                let done = if generator.chance(80) {
                    due - Duration::minutes(generator.rng.i64(10..48 * 60))
                } else {
                    due + Duration::minutes(generator.rng.i64(10..72 * 60))
                };
                built.done_tasks.push((task.id, done.min(now)));
            }
            built.n_tasks += 1;
        }
        Ok(())
    })?;
    Ok(built)
}

fn tour(crm: &Crm, built: &Built, now: DateTime<Utc>) -> CliResult {
    say!();
    say!("A short tour");
    let roles = crm.read(|tx| {
        let mut counts = Vec::new();
        for role in Role::ALL {
            let total = tx.list_parties(&PartyFilter::default().role(*role).page(0, 0))?.total;
            if total > 0 {
                counts.push(format!("{} {total}", role.label(crm_core::Lang::ZhCn)));
            }
        }
        Ok(counts)
    })?;
    say!("1. Parties by role: {}", roles.join(" · "));

    let (group_id, group_name) = &built.groups[0];
    let (descendants, rollup) = crm.read(|tx| {
        Ok((
            tx.descendants(*group_id, "subsidiary-of", None)?,
            tx.rollup_field(*group_id, "subsidiary-of", "annual_revenue", None)?,
        ))
    })?;
    let depth = descendants.iter().map(|n| n.depth).max().unwrap_or(0);
    say!(
        "2. Hierarchy: {group_name} has {} subsidiaries over {depth} levels; group annual revenue rolls up to ¥{} (own ¥{})",
        descendants.len(),
        crate::show::thousands(&rollup.total.to_string()),
        crate::show::thousands(&rollup.own.to_string())
    );

    for query in ["伟", "空调", "quote"] {
        let (page, first) = crm.read(|tx| {
            let page = tx.search(query, 0, 1)?;
            let first = match page.items.first() {
                Some(hit) => Some((tx.get_party(hit.party_id)?.name, hit.snippet.clone())),
                None => None,
            };
            Ok((page, first))
        })?;
        if let Some((name, snippet)) = first {
            say!("3. Search `{query}`: {} hits; best: {name} — {snippet}", page.total);
        }
    }

    let candidates = crm.read(|tx| tx.duplicate_candidates(100_000))?;
    let count = |reason| candidates.iter().filter(|c| c.reason == reason).count();
    let phone_pairs: Vec<_> =
        candidates.iter().filter(|c| c.reason == crm_core::DuplicateReason::Phone).collect();
    say_part!(
        "4. Duplicates: {} pairs share a phone, {} an e-mail, {} only a name",
        count(crm_core::DuplicateReason::Phone),
        count(crm_core::DuplicateReason::Email),
        count(crm_core::DuplicateReason::Name)
    );
    if let Some(pair) = phone_pairs.first() {
        let report = crm.write(|tx| tx.merge(pair.a, pair.b))?;
        say!(
            "; merged {} into {} (moved {} contact points, {} interactions)",
            pair.b,
            pair.a,
            report.contact_points,
            report.interactions
        );
    } else {
        say!();
    }

    let (last, recent) = crm.read(|tx| {
        let last = tx.last_event_seq()?;
        Ok((last, tx.events_since((last - 3).max(0), 3)?))
    })?;
    say!(
        "5. Change feed: {last} events; newest: {}",
        recent.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>().join(", ")
    );

    let salesperson = built.employees[0];
    let today = now.date_naive();
    let (agenda, name) = crm.read(|tx| {
        Ok((
            tx.agenda(salesperson, today, today + chrono::Days::new(6))?,
            tx.get_party(salesperson)?.name,
        ))
    })?;
    say!(
        "6. Agenda of {name} for the next 7 days: {} tasks{}",
        agenda.len(),
        agenda
            .first()
            .map(|t| format!(", first: {} at {}", t.title, t.due_at.format("%m-%d %H:%M")))
            .unwrap_or_default()
    );

    let sample = "erp:P-00001";
    let export = crm.read(|tx| {
        let party = tx.resolve_party(sample)?;
        tx.export_party(party.id)
    })?;
    say!(
        "7. Privacy: the export of {sample} holds {} contact points, {} interactions and {} events",
        export["party"]["contacts"].as_array().map_or(0, Vec::len),
        export["interactions"].as_array().map_or(0, Vec::len),
        export["events"].as_array().map_or(0, Vec::len)
    );
    Ok(())
}
