//! anvil / hardhat / ganache compatibility: mining control, time travel, snapshots and state cheat codes, under
//! their `evm_`, `anvil_` and `hardhat_` names.

use crate::error::{invalid_params, node_error, RpcResult};
use alloy_primitives::{Address, Bytes, B256, U256, U64};
use jsonrpsee::{core::RegisterMethodError, RpcModule};
use keel_node::{Mining, Node};
use std::time::Duration;

/// A number given as hex quantity or JSON number.
fn quantity(value: &serde_json::Value, what: &str) -> RpcResult<u64> {
    match value {
        serde_json::Value::Number(n) => {
            n.as_u64().ok_or_else(|| invalid_params(format!("{what}: not a u64")))
        }
        serde_json::Value::String(s) => {
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            parsed.map_err(|e| invalid_params(format!("{what}: {e}")))
        }
        _ => Err(invalid_params(format!("{what}: expected a number"))),
    }
}

pub(crate) fn register(module: &mut RpcModule<Node>) -> Result<(), RegisterMethodError> {
    module.register_blocking_method("evm_mine", |params, node, _| -> RpcResult<String> {
        let mut seq = params.sequence();
        let timestamp =
            seq.optional_next::<serde_json::Value>()?.map(|v| quantity(&v, "timestamp")).transpose()?;
        node.mine(1, timestamp).map_err(node_error)?;
        Ok("0x0".into())
    })?;
    for name in ["anvil_mine", "hardhat_mine"] {
        module.register_blocking_method(name, |params, node, _| -> RpcResult<()> {
            let mut seq = params.sequence();
            let count =
                seq.optional_next::<serde_json::Value>()?.map(|v| quantity(&v, "count")).transpose()?;
            let interval =
                seq.optional_next::<serde_json::Value>()?.map(|v| quantity(&v, "interval")).transpose()?;
            let count = count.unwrap_or(1);
            if count > 100_000 {
                return Err(invalid_params("at most 100000 blocks per call"));
            }
            node.mine_spaced(count, interval).map_err(node_error)?;
            Ok(())
        })?;
    }
    module.register_blocking_method("evm_snapshot", |_, node, _| -> RpcResult<U256> {
        node.snapshot_point().map(U256::from).map_err(node_error)
    })?;
    module.register_blocking_method("evm_revert", |params, node, _| -> RpcResult<bool> {
        let id: serde_json::Value = params.one()?;
        let id = quantity(&id, "snapshot id")?;
        node.revert_to(id).map_err(node_error)
    })?;
    module.register_method("evm_increaseTime", |params, node, _| -> RpcResult<U64> {
        let seconds: serde_json::Value = params.one()?;
        let seconds =
            i64::try_from(quantity(&seconds, "seconds")?).map_err(|_| invalid_params("seconds too large"))?;
        Ok(U64::from(node.increase_time(seconds).max(0)))
    })?;
    module.register_blocking_method("evm_setNextBlockTimestamp", |params, node, _| -> RpcResult<()> {
        let ts: serde_json::Value = params.one()?;
        node.set_next_timestamp(quantity(&ts, "timestamp")?).map_err(node_error)
    })?;
    module.register_method("evm_setAutomine", |params, node, _| -> RpcResult<()> {
        let on: bool = params.one()?;
        node.set_mining(if on { Mining::Auto } else { Mining::Manual });
        Ok(())
    })?;
    module.register_method("anvil_getAutomine", |_, node, _| -> RpcResult<bool> {
        Ok(node.mining() == Mining::Auto)
    })?;
    module.register_method("evm_setIntervalMining", |params, node, _| -> RpcResult<()> {
        let ms: serde_json::Value = params.one()?;
        let ms = quantity(&ms, "interval")?;
        node.set_mining(if ms == 0 { Mining::Manual } else { Mining::Interval(Duration::from_millis(ms)) });
        Ok(())
    })?;
    for name in ["anvil_setBalance", "hardhat_setBalance"] {
        module.register_method(name, |params, node, _| -> RpcResult<()> {
            let mut seq = params.sequence();
            let address: Address = seq.next()?;
            let balance: U256 = seq.next()?;
            node.patch(address, |p| p.balance = Some(balance));
            Ok(())
        })?;
    }
    for name in ["anvil_setNonce", "hardhat_setNonce"] {
        module.register_method(name, |params, node, _| -> RpcResult<()> {
            let mut seq = params.sequence();
            let address: Address = seq.next()?;
            let nonce: serde_json::Value = seq.next()?;
            let nonce = quantity(&nonce, "nonce")?;
            node.patch(address, |p| p.nonce = Some(nonce));
            Ok(())
        })?;
    }
    for name in ["anvil_setCode", "hardhat_setCode"] {
        module.register_method(name, |params, node, _| -> RpcResult<()> {
            let mut seq = params.sequence();
            let address: Address = seq.next()?;
            let code: Bytes = seq.next()?;
            node.patch(address, |p| p.code = Some(code));
            Ok(())
        })?;
    }
    for name in ["anvil_setStorageAt", "hardhat_setStorageAt"] {
        module.register_method(name, |params, node, _| -> RpcResult<bool> {
            let mut seq = params.sequence();
            let address: Address = seq.next()?;
            let slot: U256 = seq.next()?;
            let value: B256 = seq.next()?;
            node.patch(address, |p| {
                p.storage.retain(|(s, _)| *s != slot);
                p.storage.push((slot, U256::from_be_bytes(value.0)));
            });
            Ok(true)
        })?;
    }
    for name in ["anvil_impersonateAccount", "hardhat_impersonateAccount"] {
        module.register_method(name, |params, node, _| -> RpcResult<()> {
            let address: Address = params.one()?;
            node.impersonate(address, true);
            Ok(())
        })?;
    }
    for name in ["anvil_stopImpersonatingAccount", "hardhat_stopImpersonatingAccount"] {
        module.register_method(name, |params, node, _| -> RpcResult<()> {
            let address: Address = params.one()?;
            node.impersonate(address, false);
            Ok(())
        })?;
    }
    for name in ["anvil_reset", "hardhat_reset"] {
        module.register_blocking_method(name, |params, node, _| -> RpcResult<()> {
            // Forking is not supported: a reset takes no fork URL.
            if let Some(options) = params.sequence().optional_next::<serde_json::Value>()? {
                if options.get("forking").is_some_and(|f| !f.is_null()) {
                    return Err(invalid_params("forking is not supported"));
                }
            }
            node.reset().map_err(node_error)
        })?;
    }
    module.register_method("anvil_autoImpersonateAccount", |params, node, _| -> RpcResult<()> {
        let on: bool = params.one()?;
        node.auto_impersonate(on);
        Ok(())
    })?;
    Ok(())
}
