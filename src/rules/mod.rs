//! The rules engine: facts about one resident → a colour with its reasons. Pure, no IO.
//!
//! A rule set is a JSON document of ordered rules, each a JsonLogic condition with a colour and
//! a reason in Chinese and English. An unexpired override decides alone; otherwise the worst
//! colour among the matching rules wins and every matching rule's reason is given. Nothing
//! matching means green. A condition that fails to evaluate counts as matched, at least
//! yellow, with a reason saying so: a broken rule draws attention, it never turns anyone green.

use crate::domain::{Colour, Flag, Invalid, Need, OrderLevel};
use datalogic_rs::{DataValue, Engine, Logic};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU8, Ordering};

/// The default rule set, compiled into the binary and activated on first start.
pub const DEFAULT_RULES: &str = include_str!("../../fixtures/rules/default.json");

/// Everything the rules may look at for one resident. Zone ids are not among them on
/// purpose: a colour needs a basis (an order, a flag, an override), not just an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Facts {
    pub order_level: OrderLevel,
    pub sheltered: bool,
    pub safe_with_relatives: bool,
    pub needs: Vec<Need>,
    pub flags: Vec<Flag>,
    pub age: Option<i32>,
    /// An approved, unexpired override and its reason.
    pub override_colour: Option<(Colour, String)>,
}

/// The names a condition may read with `{"var": …}`.
pub const VARIABLES: [&str; 6] = [
    "order_level",
    "sheltered",
    "safe_with_relatives",
    "needs",
    "flags",
    "age",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Text {
    pub en: String,
    pub zh: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleDoc {
    pub id: String,
    /// A JsonLogic condition over the facts.
    #[serde(rename = "if")]
    #[schema(value_type = Object)]
    pub condition: serde_json::Value,
    pub colour: Colour,
    pub reason: Text,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSetDoc {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub rules: Vec<RuleDoc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Reason {
    pub rule: String,
    /// What kind of basis it is, in words that say nothing personal: `evacuation_order`,
    /// `personal_flag`, `needs`, `individual_decision` (an override), `rule` or `none`.
    pub category: &'static str,
    pub text: String,
    pub text_zh: String,
}

impl Reason {
    /// The reason as staff at a shelter door may read it: policy text as it is, but an
    /// override's free text (an official's note about a person) only as its category.
    pub fn for_staff(&self) -> Reason {
        if self.category == category::INDIVIDUAL_DECISION {
            Reason {
                rule: self.rule.clone(),
                category: self.category,
                text: "An individual decision, approved by two officials.".into(),
                text_zh: "经两名工作人员审批的个人决定。".into(),
            }
        } else {
            self.clone()
        }
    }
}

/// The categories of [`Reason`].
pub mod category {
    pub const EVACUATION_ORDER: &str = "evacuation_order";
    pub const PERSONAL_FLAG: &str = "personal_flag";
    pub const NEEDS: &str = "needs";
    pub const INDIVIDUAL_DECISION: &str = "individual_decision";
    pub const RULE: &str = "rule";
    pub const NONE: &str = "none";

    /// A rule's category, from the facts its condition reads (the order first: an order is
    /// what most red and yellow codes rest on).
    pub fn of_rule(vars: &std::collections::BTreeSet<String>) -> &'static str {
        if vars.contains("order_level") {
            EVACUATION_ORDER
        } else if vars.contains("flags") {
            PERSONAL_FLAG
        } else if vars.contains("needs") {
            NEEDS
        } else {
            RULE
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Verdict {
    pub colour: Colour,
    pub reasons: Vec<Reason>,
}

struct Rule {
    id: String,
    category: &'static str,
    logic: Logic,
    colour: Colour,
    reason: Text,
}

/// A validated rule set, its conditions compiled once.
pub struct RuleSet {
    pub version: i64,
    pub doc: RuleSetDoc,
    engine: Engine,
    rules: Vec<Rule>,
    uses: BTreeSet<String>,
    /// Colours already worked out, by packed facts (see [`RuleSet::memo_key`]): 0 unknown,
    /// else colour code + 1. Facts take few distinct values, so after a short warm-up nearly
    /// every evaluation is one array read; lock-free across threads.
    memo: Box<[AtomicU8]>,
}

const NEED_BITS: usize = Need::ALL.len();
const FLAG_BITS: usize = Flag::ALL.len();
const BASE_BITS: usize = 4 + NEED_BITS + FLAG_BITS;

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RuleSet(v{}, {} rules)", self.version, self.rules.len())
    }
}

pub const MAX_RULES: usize = 100;

thread_local! {
    static ARENA: RefCell<datalogic_rs::bumpalo::Bump> = RefCell::new(datalogic_rs::bumpalo::Bump::new());
}

/// Calls `f` with the facts as a JsonLogic data object, built on the stack.
fn with_data<R>(facts: &Facts, f: impl FnOnce(&DataValue<'_>) -> R) -> R {
    let needs: Vec<DataValue<'_>> = facts
        .needs
        .iter()
        .map(|n| DataValue::String(n.as_str()))
        .collect();
    let flags: Vec<DataValue<'_>> = facts
        .flags
        .iter()
        .map(|n| DataValue::String(n.as_str()))
        .collect();
    let fields = [
        ("order_level", DataValue::String(facts.order_level.as_str())),
        ("sheltered", DataValue::Bool(facts.sheltered)),
        (
            "safe_with_relatives",
            DataValue::Bool(facts.safe_with_relatives),
        ),
        ("needs", DataValue::Array(&needs)),
        ("flags", DataValue::Array(&flags)),
        (
            "age",
            facts.age.map_or(DataValue::Null, |a| {
                DataValue::Number(datalogic_rs::datavalue::NumberValue::Integer(i64::from(a)))
            }),
        ),
    ];
    f(&DataValue::Object(&fields))
}

/// Facts that exercise every branch a rule is likely to test, for validation.
fn sample_facts() -> Vec<Facts> {
    let mut out = Vec::new();
    for level in [
        OrderLevel::None,
        OrderLevel::Advisory,
        OrderLevel::Mandatory,
    ] {
        for (sheltered, safe) in [(false, false), (true, false), (false, true)] {
            for (needs, flags, age) in [
                (vec![], vec![], None),
                (Need::ALL.to_vec(), Flag::ALL.to_vec(), Some(90)),
                (vec![Need::Infant], vec![Flag::Injured], Some(0)),
            ] {
                out.push(Facts {
                    order_level: level,
                    sheltered,
                    safe_with_relatives: safe,
                    needs,
                    flags,
                    age,
                    override_colour: None,
                });
            }
        }
    }
    out
}

fn collect_vars(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, inner) in m {
                if k == "var" {
                    let name = match inner {
                        serde_json::Value::String(s) => Some(s.as_str()),
                        serde_json::Value::Array(a) => a.first().and_then(|x| x.as_str()),
                        _ => None,
                    };
                    if let Some(n) = name {
                        out.insert(n.split('.').next().unwrap_or("").to_owned());
                    }
                }
                collect_vars(inner, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_vars(x, out)),
        _ => {}
    }
}

fn depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

impl RuleSet {
    /// Checks and compiles a rule set document. Every error names the rule and the reason.
    pub fn compile(version: i64, doc: RuleSetDoc) -> Result<Self, Invalid> {
        let bad = |rule: &str, code: &'static str, msg: String| {
            Invalid::new(format!("rules[{rule}]"), code, msg)
        };
        if doc.name.trim().is_empty() || doc.name.chars().count() > 100 {
            return Err(Invalid::new(
                "name",
                "invalid_rule_set",
                "name must be 1 to 100 characters",
            ));
        }
        if doc.rules.is_empty() || doc.rules.len() > MAX_RULES {
            return Err(Invalid::new(
                "rules",
                "invalid_rule_set",
                format!("a rule set has 1 to {MAX_RULES} rules"),
            ));
        }
        let engine = Engine::new();
        let mut rules = Vec::with_capacity(doc.rules.len());
        let mut seen = BTreeSet::new();
        let mut uses = BTreeSet::new();
        for r in &doc.rules {
            let id_ok = !r.id.is_empty()
                && r.id.len() <= 64
                && r.id.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            if !id_ok {
                return Err(Invalid::new(
                    "rules",
                    "invalid_rule_id",
                    "rule ids are 1 to 64 characters of a-z, 0-9, _ and -",
                ));
            }
            if !seen.insert(r.id.clone()) {
                return Err(bad(
                    &r.id,
                    "duplicate_rule_id",
                    format!("rule id {} appears twice", r.id),
                ));
            }
            if r.reason.en.trim().is_empty() || r.reason.zh.trim().is_empty() {
                return Err(bad(
                    &r.id,
                    "missing_reason",
                    "every rule needs a reason in en and zh".into(),
                ));
            }
            if depth(&r.condition) > 32 {
                return Err(bad(
                    &r.id,
                    "invalid_condition",
                    "the condition is nested too deeply".into(),
                ));
            }
            let mut vars = BTreeSet::new();
            collect_vars(&r.condition, &mut vars);
            if let Some(unknown) = vars
                .iter()
                .find(|v| !v.is_empty() && !VARIABLES.contains(&v.as_str()))
            {
                return Err(bad(
                    &r.id,
                    "unknown_variable",
                    format!("unknown fact {unknown:?}; known: {}", VARIABLES.join(", ")),
                ));
            }
            let rule_category = category::of_rule(&vars);
            uses.extend(vars.into_iter().filter(|v| !v.is_empty()));
            let logic = engine.compile(&r.condition).map_err(|e| {
                bad(
                    &r.id,
                    "invalid_condition",
                    format!("not valid JsonLogic: {e}"),
                )
            })?;
            rules.push(Rule {
                id: r.id.clone(),
                category: rule_category,
                logic,
                colour: r.colour,
                reason: r.reason.clone(),
            });
        }
        let memo_bits = if uses.contains("age") {
            BASE_BITS + 8
        } else {
            BASE_BITS
        };
        let memo = (0..1usize << memo_bits).map(|_| AtomicU8::new(0)).collect();
        let set = RuleSet {
            version,
            doc,
            engine,
            rules,
            uses,
            memo,
        };
        // A condition that fails on ordinary facts is refused now, not discovered at 3 a.m.
        for facts in sample_facts() {
            for rule in &set.rules {
                if let Err(e) = set.test(rule, &facts) {
                    return Err(bad(
                        &rule.id,
                        "condition_fails",
                        format!("the condition fails to evaluate: {e}"),
                    ));
                }
            }
        }
        Ok(set)
    }

    pub fn parse(version: i64, json: &str) -> Result<Self, Invalid> {
        let doc: RuleSetDoc = serde_json::from_str(json).map_err(|e| {
            Invalid::new(
                "body",
                "invalid_rule_set",
                format!("not a rule set document: {e}"),
            )
        })?;
        Self::compile(version, doc)
    }

    pub fn default_set() -> Self {
        Self::parse(1, DEFAULT_RULES).expect("the built-in rule set is valid")
    }

    /// The facts the conditions read: only these need to differ for colours to differ.
    pub fn uses(&self, fact: &str) -> bool {
        self.uses.contains(fact)
    }

    fn test(&self, rule: &Rule, facts: &Facts) -> Result<bool, String> {
        ARENA.with(|arena| {
            let mut arena = arena.borrow_mut();
            arena.reset();
            with_data(facts, |data| {
                self.engine
                    .evaluate(&rule.logic, data, &arena)
                    .map(|v| self.engine.truthy(v))
                    .map_err(|e| e.to_string())
            })
        })
    }

    /// Whether a change of facts from `before` to `after` makes the colour more severe: now,
    /// now without any override (which hides facts until it expires), or in any situation a
    /// public order or a stay could later put the resident in. A flag added inside an advisory
    /// zone (yellow either way today) still turns them yellow after the all-clear: worse.
    pub fn worsens(&self, before: &Facts, after: &Facts) -> bool {
        let worse = |b: &Facts, a: &Facts| self.evaluate(a).colour > self.evaluate(b).colour;
        if worse(before, after) {
            return true;
        }
        let bare = |f: &Facts| Facts {
            override_colour: None,
            ..f.clone()
        };
        let (b, a) = (bare(before), bare(after));
        if worse(&b, &a) {
            return true;
        }
        for order_level in [
            OrderLevel::None,
            OrderLevel::Advisory,
            OrderLevel::Mandatory,
        ] {
            for sheltered in [false, true] {
                for safe_with_relatives in [false, true] {
                    let situation = |f: &Facts| Facts {
                        order_level,
                        sheltered,
                        safe_with_relatives,
                        ..f.clone()
                    };
                    if worse(&situation(&b), &situation(&a)) {
                        return true;
                    }
                }
            }
        }
        false
    }

    pub fn evaluate(&self, facts: &Facts) -> Verdict {
        if let Some((colour, reason)) = &facts.override_colour {
            return Verdict {
                colour: *colour,
                reasons: vec![Reason {
                    rule: "override".into(),
                    category: category::INDIVIDUAL_DECISION,
                    text: reason.clone(),
                    text_zh: reason.clone(),
                }],
            };
        }
        let mut colour = Colour::Green;
        let mut reasons = Vec::new();
        for rule in &self.rules {
            match self.test(rule, facts) {
                Ok(false) => {}
                Ok(true) => {
                    colour = colour.max(rule.colour);
                    reasons.push(Reason {
                        rule: rule.id.clone(),
                        category: rule.category,
                        text: rule.reason.en.clone(),
                        text_zh: rule.reason.zh.clone(),
                    });
                }
                Err(_) => {
                    colour = colour.max(rule.colour).max(Colour::Yellow);
                    reasons.push(Reason {
                        rule: rule.id.clone(),
                        category: rule.category,
                        text: format!(
                            "Rule {} could not be evaluated; an official will check your status.",
                            rule.id
                        ),
                        text_zh: format!("规则 {} 无法计算，工作人员将核实您的状态。", rule.id),
                    });
                }
            }
        }
        if reasons.is_empty() {
            reasons.push(Reason {
                rule: "none".into(),
                category: category::NONE,
                text: "No evacuation order or risk flag applies to you.".into(),
                text_zh: "目前没有适用于您的转移令或风险标记。".into(),
            });
        }
        Verdict { colour, reasons }
    }

    /// The facts packed into an index of `memo`; `None` for facts it cannot hold (an age
    /// outside 0–254 when the rules read age).
    fn memo_key(&self, f: &Facts) -> Option<usize> {
        let mut k = f.order_level as usize
            | usize::from(f.sheltered) << 2
            | usize::from(f.safe_with_relatives) << 3;
        for n in &f.needs {
            k |= 1 << (4 + *n as usize);
        }
        for x in &f.flags {
            k |= 1 << (4 + NEED_BITS + *x as usize);
        }
        if self.uses.contains("age") {
            let age = match f.age {
                None => 0,
                Some(a @ 0..=254) => a as usize + 1,
                Some(_) => return None,
            };
            k |= age << BASE_BITS;
        }
        Some(k)
    }

    /// The colour alone, without building reasons: for counting many residents and for
    /// every scan. Worked out once per distinct set of facts, then read from the memo.
    pub fn colour(&self, facts: &Facts) -> Colour {
        if let Some((c, _)) = &facts.override_colour {
            return *c;
        }
        let key = self.memo_key(facts);
        let known = key
            .and_then(|k| self.memo.get(k))
            .and_then(|m| Colour::from_code(i64::from(m.load(Ordering::Relaxed)) - 1));
        if let Some(c) = known {
            return c;
        }
        let c = self.colour_uncached(facts);
        if let Some(slot) = key.and_then(|k| self.memo.get(k)) {
            slot.store(c.code() + 1, Ordering::Relaxed);
        }
        c
    }

    /// The colour by evaluating every condition, never from the memo.
    pub fn colour_uncached(&self, facts: &Facts) -> Colour {
        if let Some((c, _)) = &facts.override_colour {
            return *c;
        }
        let mut colour = Colour::Green;
        for rule in &self.rules {
            match self.test(rule, facts) {
                Ok(false) => {}
                Ok(true) => colour = colour.max(rule.colour),
                Err(_) => colour = colour.max(rule.colour).max(Colour::Yellow),
            }
        }
        colour
    }
}

/// The default rule set written as plain Rust: the benchmark's baseline, and a cross-check
/// in tests that the JSON document says what it is meant to say.
pub fn default_by_hand(f: &Facts) -> Colour {
    if let Some((c, _)) = &f.override_colour {
        return *c;
    }
    let transferred = f.sheltered || f.safe_with_relatives;
    let needs_help = f.needs.iter().any(|n| {
        matches!(
            n,
            Need::Elderly | Need::Disabled | Need::Medical | Need::Pregnant | Need::Infant
        )
    });
    let flagged = f
        .flags
        .iter()
        .any(|x| matches!(x, Flag::Quarantine | Flag::Injured));
    match f.order_level {
        OrderLevel::Mandatory if !transferred => Colour::Red,
        OrderLevel::Advisory if !transferred && needs_help => Colour::Red,
        OrderLevel::Mandatory | OrderLevel::Advisory => Colour::Yellow,
        OrderLevel::None if flagged => Colour::Yellow,
        OrderLevel::None => Colour::Green,
    }
}

#[cfg(test)]
mod tests;
