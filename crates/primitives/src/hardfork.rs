use std::{fmt, str::FromStr};

/// Ethereum hardforks keel knows, in activation order. The executor maps each to revm's `SpecId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hardfork {
    Frontier,
    Homestead,
    Tangerine,
    SpuriousDragon,
    Byzantium,
    Constantinople,
    Petersburg,
    Istanbul,
    Berlin,
    London,
    Paris,
    Shanghai,
    Cancun,
    Prague,
    Osaka,
}

impl Hardfork {
    /// The newest fork keel executes; the dev chain runs it from genesis.
    pub const LATEST: Hardfork = Hardfork::Osaka;

    pub const ALL: [Hardfork; 15] = [
        Hardfork::Frontier,
        Hardfork::Homestead,
        Hardfork::Tangerine,
        Hardfork::SpuriousDragon,
        Hardfork::Byzantium,
        Hardfork::Constantinople,
        Hardfork::Petersburg,
        Hardfork::Istanbul,
        Hardfork::Berlin,
        Hardfork::London,
        Hardfork::Paris,
        Hardfork::Shanghai,
        Hardfork::Cancun,
        Hardfork::Prague,
        Hardfork::Osaka,
    ];

    /// The name ethereum/tests uses for the fork (`post` keys of state tests).
    pub fn test_name(self) -> &'static str {
        match self {
            Hardfork::Frontier => "Frontier",
            Hardfork::Homestead => "Homestead",
            Hardfork::Tangerine => "EIP150",
            Hardfork::SpuriousDragon => "EIP158",
            Hardfork::Byzantium => "Byzantium",
            Hardfork::Constantinople => "Constantinople",
            Hardfork::Petersburg => "ConstantinopleFix",
            Hardfork::Istanbul => "Istanbul",
            Hardfork::Berlin => "Berlin",
            Hardfork::London => "London",
            Hardfork::Paris => "Paris",
            Hardfork::Shanghai => "Shanghai",
            Hardfork::Cancun => "Cancun",
            Hardfork::Prague => "Prague",
            Hardfork::Osaka => "Osaka",
        }
    }
}

impl fmt::Display for Hardfork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.test_name())
    }
}

impl FromStr for Hardfork {
    type Err = String;

    /// Accepts the ethereum/tests names (`ConstantinopleFix`, `EIP150`, `Merge`) and plain ones, any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fork = match s.to_ascii_lowercase().as_str() {
            "frontier" => Hardfork::Frontier,
            "homestead" => Hardfork::Homestead,
            "eip150" | "tangerine" | "tangerinewhistle" => Hardfork::Tangerine,
            "eip158" | "spuriousdragon" => Hardfork::SpuriousDragon,
            "byzantium" => Hardfork::Byzantium,
            "constantinople" => Hardfork::Constantinople,
            "constantinoplefix" | "petersburg" => Hardfork::Petersburg,
            "istanbul" => Hardfork::Istanbul,
            "berlin" => Hardfork::Berlin,
            "london" => Hardfork::London,
            "paris" | "merge" => Hardfork::Paris,
            "shanghai" => Hardfork::Shanghai,
            "cancun" => Hardfork::Cancun,
            "prague" => Hardfork::Prague,
            "osaka" => Hardfork::Osaka,
            _ => return Err(format!("unknown hardfork {s:?}")),
        };
        Ok(fork)
    }
}
