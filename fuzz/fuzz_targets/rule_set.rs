//! The rule-set validator (JsonLogic rules, checked and compiled) on any text: never panics; an
//! accepted set evaluates the default facts without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use safecode::rules::{Facts, RuleSet};

fuzz_target!(|text: &str| {
    if let Ok(set) = RuleSet::parse(2, text) {
        let _ = set.evaluate(&Facts::default());
    }
});
