// SPDX-License-Identifier: MIT
// The ERC-20 keel benchmarks and tests with: OpenZeppelin's audited implementation, unmodified, with the
// whole supply minted to the deployer.
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

contract Token is ERC20 {
    constructor(uint256 supply) ERC20("Keel Token", "KEEL") {
        _mint(msg.sender, supply);
    }
}
