use keel_primitives::Hardfork;
use revm::primitives::hardfork::SpecId;

/// revm's spec for a keel hardfork. `None` for forks revm does not model separately (Constantinople, which
/// was superseded by Petersburg before it activated on mainnet).
pub fn spec_id(fork: Hardfork) -> Option<SpecId> {
    Some(match fork {
        Hardfork::Frontier => SpecId::FRONTIER,
        Hardfork::Homestead => SpecId::HOMESTEAD,
        Hardfork::Tangerine => SpecId::TANGERINE,
        Hardfork::SpuriousDragon => SpecId::SPURIOUS_DRAGON,
        Hardfork::Byzantium => SpecId::BYZANTIUM,
        Hardfork::Constantinople => return None,
        Hardfork::Petersburg => SpecId::PETERSBURG,
        Hardfork::Istanbul => SpecId::ISTANBUL,
        Hardfork::Berlin => SpecId::BERLIN,
        Hardfork::London => SpecId::LONDON,
        Hardfork::Paris => SpecId::MERGE,
        Hardfork::Shanghai => SpecId::SHANGHAI,
        Hardfork::Cancun => SpecId::CANCUN,
        Hardfork::Prague => SpecId::PRAGUE,
        Hardfork::Osaka => SpecId::OSAKA,
    })
}

pub use alloy_eips::eip7840::BlobParams;

/// Gas per blob (EIP-4844).
pub(crate) const GAS_PER_BLOB: u64 = alloy_eips::eip4844::DATA_GAS_PER_BLOB;

/// The blob schedule of mainnet (EIP-4844, EIP-7691, EIP-7594/7918); `None` before Cancun.
pub fn blob_params(fork: Hardfork) -> Option<BlobParams> {
    match fork {
        f if f >= Hardfork::Osaka => Some(BlobParams::osaka()),
        f if f >= Hardfork::Prague => Some(BlobParams::prague()),
        f if f >= Hardfork::Cancun => Some(BlobParams::cancun()),
        _ => None,
    }
}
