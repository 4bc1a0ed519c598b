//! The policy file: TOML for `--policy FILE`, JSON under `config.keel.sandbox` in a genesis file; one structure.
//!
//! ```toml
//! [[rule]]
//! name = "plugin"
//! address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"   # or code_hash = "0x…"
//! inherit = true                                            # contracts it creates get this rule too
//! deny = ["SELFDESTRUCT", "DELEGATECALL", "LOG0"]
//! [rule.calls]
//! allow = ["0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"]     # calls only to these
//! value = false                                             # and without value
//! [rule.storage]
//! namespaces = ["0x7461626c"]                               # SSTORE/TSTORE only to slots starting with these bytes
//! [rule.limits]
//! max_depth = 4
//! max_call_gas = 100000
//! max_code_size = 2048
//! ```

use crate::{Namespaces, Op, OpSet, Policy, PolicyError, Rule, Subject};
use alloy_primitives::{Address, Bytes, B256};
use serde::{Deserialize, Serialize};

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A policy document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    #[serde(default, rename = "rule", alias = "rules", skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleConfig>,
}

/// One rule as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_hash: Option<B256>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub inherit: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<CallsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsConfig>,
}

/// `[rule.calls]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsConfig {
    /// Calls only to these addresses (absent: any target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<Address>>,
    /// Whether calls may send value (default true).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub value: bool,
}

/// `[rule.storage]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Slot prefixes (1–32 bytes each) SSTORE and TSTORE may write under; an empty list allows no writes.
    pub namespaces: Vec<Bytes>,
}

/// `[rule.limits]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_call_gas: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_code_size: Option<u64>,
}

impl PolicyConfig {
    /// Parses a TOML policy file; `source_name` names it in errors.
    pub fn from_toml(source_name: &str, text: &str) -> Result<Self, PolicyError> {
        let de = toml::Deserializer::parse(text).map_err(|e| PolicyError::Parse {
            source_name: source_name.into(),
            path: String::new(),
            reason: e.to_string().trim().to_string(),
        })?;
        serde_path_to_error::deserialize(de).map_err(|e| PolicyError::Parse {
            source_name: source_name.into(),
            path: e.path().to_string(),
            reason: e.into_inner().to_string().trim().to_string(),
        })
    }

    /// Parses the JSON form (the `config.keel.sandbox` value of a genesis file).
    pub fn from_json(source_name: &str, value: &serde_json::Value) -> Result<Self, PolicyError> {
        serde_path_to_error::deserialize(value).map_err(|e| PolicyError::Parse {
            source_name: source_name.into(),
            path: e.path().to_string(),
            reason: e.into_inner().to_string(),
        })
    }

    /// Validates the document into a [`Policy`].
    pub fn build(self, source_name: &str) -> Result<Policy, PolicyError> {
        let mut rules = Vec::with_capacity(self.rules.len());
        let mut by_address = alloy_primitives::map::AddressHashMap::default();
        let mut by_code_hash = alloy_primitives::map::B256HashMap::default();
        for (index, rule) in self.rules.iter().enumerate() {
            let name = rule.name.clone().unwrap_or_else(|| format!("rule {index}"));
            let fail = |field: &'static str, reason: String| PolicyError::Rule {
                source_name: source_name.into(),
                index,
                name: name.clone(),
                field,
                reason,
            };
            let subject = match (rule.address, rule.code_hash) {
                (Some(a), None) => Subject::Address(a),
                (None, Some(h)) => Subject::CodeHash(h),
                (Some(_), Some(_)) => {
                    return Err(fail("address", "give either `address` or `code_hash`, not both".into()))
                }
                (None, None) => {
                    return Err(fail("address", "a rule needs a subject: `address` or `code_hash`".into()))
                }
            };
            let duplicate = match subject {
                Subject::Address(a) => by_address.insert(a, index),
                Subject::CodeHash(h) => by_code_hash.insert(h, index),
            };
            if let Some(earlier) = duplicate {
                return Err(fail("address", format!("rule {earlier} already names this subject")));
            }
            let mut deny = OpSet::default();
            for op in &rule.deny {
                let parsed = Op::from_name(op).ok_or_else(|| {
                    let known: Vec<&str> = Op::ALL.iter().map(|o| o.name()).collect();
                    fail("deny", format!("unknown operation {op:?} (known: {})", known.join(", ")))
                })?;
                deny.insert(parsed);
            }
            let storage = match &rule.storage {
                None => None,
                Some(s) => {
                    let mut prefixes = Vec::with_capacity(s.namespaces.len());
                    for ns in &s.namespaces {
                        if ns.is_empty() || ns.len() > 32 {
                            return Err(fail(
                                "storage.namespaces",
                                format!("namespace {ns} is {} bytes; a slot prefix has 1 to 32", ns.len()),
                            ));
                        }
                        prefixes.push(ns.to_vec());
                    }
                    Some(Namespaces { prefixes })
                }
            };
            let limits = rule.limits.clone().unwrap_or_default();
            if limits.max_depth.is_some_and(|d| d > 1024) {
                return Err(fail("limits.max_depth", "the EVM's call depth limit is 1024".into()));
            }
            if limits.max_code_size.is_some_and(|s| s > 0x6000 * 4) {
                return Err(fail("limits.max_code_size", "larger than any code the EVM deploys".into()));
            }
            let calls = rule.calls.clone();
            rules.push(Rule {
                index,
                name,
                subject,
                inherit: rule.inherit,
                deny,
                call_allow: calls.as_ref().and_then(|c| c.allow.clone()),
                call_value: calls.as_ref().is_none_or(|c| c.value),
                storage,
                max_depth: limits.max_depth,
                max_call_gas: limits.max_call_gas,
                max_code_size: limits.max_code_size.map(|s| s as usize),
            });
        }
        if rules.len() > 255 {
            return Err(PolicyError::Rule {
                source_name: source_name.into(),
                index: 255,
                name: "(too many)".into(),
                field: "rule",
                reason: "a policy holds at most 255 rules".into(),
            });
        }
        let inherits = rules.iter().any(|r| r.inherit);
        let address_filter = by_address.keys().fold(0u64, |bits, a| bits | crate::address_bit(*a));
        Ok(Policy { rules, by_address, by_code_hash, inherits, address_filter, config: self })
    }
}

impl Policy {
    /// Parses and validates a TOML policy file.
    pub fn from_toml(source_name: &str, text: &str) -> Result<Self, PolicyError> {
        PolicyConfig::from_toml(source_name, text)?.build(source_name)
    }

    /// Parses and validates the JSON form.
    pub fn from_json(source_name: &str, value: &serde_json::Value) -> Result<Self, PolicyError> {
        PolicyConfig::from_json(source_name, value)?.build(source_name)
    }
}
