// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// What confined contracts call: accepts value, counts pings, and writes its own storage.
contract Target {
    uint256 public pings;

    function ping() external payable returns (uint256) {
        pings += 1;
        return pings;
    }

    function peek() external view returns (uint256) {
        return pings;
    }

    /// Writes slot 0 of whoever runs this code (for DELEGATECALL tests).
    function poke() external {
        assembly {
            sstore(0, 42)
        }
    }

    receive() external payable {}
}
