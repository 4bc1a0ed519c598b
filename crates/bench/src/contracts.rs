//! The compiled contracts the workloads call (`contracts/*.sol`, compiled by `scripts/compile-contracts.sh` with
//! the pinned solcjs; the outputs are committed so benchmarking needs no compiler).

use crate::BenchError;
use alloy_primitives::{hex, keccak256, Address, Bytes, U256};

const TOKEN_BIN: &str = include_str!("../../../contracts/out/Token.bin");
const STORAGE_HEAVY_BIN: &str = include_str!("../../../contracts/out/StorageHeavy.bin");

const TARGET_BIN: &str = include_str!("../../../contracts/out/Target.bin");
const PLUGIN_BIN: &str = include_str!("../../../contracts/out/Plugin.bin");

/// Creation code of a contract of contracts/ that takes no constructor arguments.
pub(crate) fn bytecode(name: &str) -> Result<Bytes, BenchError> {
    let bin = match name {
        "Target" => TARGET_BIN,
        "Plugin" => PLUGIN_BIN,
        "StorageHeavy" => STORAGE_HEAVY_BIN,
        other => return Err(BenchError::Setup(format!("no compiled contract {other}"))),
    };
    Ok(decode(name, bin)?.into())
}

fn decode(name: &str, bin: &str) -> Result<Vec<u8>, BenchError> {
    hex::decode(bin.trim()).map_err(|e| BenchError::Setup(format!("contracts/out/{name}.bin: {e}")))
}

fn word(value: U256) -> [u8; 32] {
    value.to_be_bytes()
}

fn selector(signature: &str) -> [u8; 4] {
    let hash = keccak256(signature);
    [hash[0], hash[1], hash[2], hash[3]]
}

/// Creation code of OpenZeppelin's ERC-20 minting `supply` to the deployer.
pub(crate) fn token_deploy(supply: U256) -> Result<Bytes, BenchError> {
    let mut code = decode("Token", TOKEN_BIN)?;
    code.extend_from_slice(&word(supply));
    Ok(code.into())
}

/// `transfer(address,uint256)` calldata.
pub(crate) fn token_transfer(to: Address, amount: U256) -> Bytes {
    let mut data = selector("transfer(address,uint256)").to_vec();
    data.extend_from_slice(&word(U256::from_be_slice(to.as_slice())));
    data.extend_from_slice(&word(amount));
    data.into()
}

/// Creation code of `StorageHeavy`.
pub(crate) fn storage_heavy_deploy() -> Result<Bytes, BenchError> {
    Ok(decode("StorageHeavy", STORAGE_HEAVY_BIN)?.into())
}

/// `fill(uint256,uint256)` calldata: writes slots `start .. start + count`.
pub(crate) fn storage_fill(start: u64, count: u64) -> Bytes {
    let mut data = selector("fill(uint256,uint256)").to_vec();
    data.extend_from_slice(&word(U256::from(start)));
    data.extend_from_slice(&word(U256::from(count)));
    data.into()
}
