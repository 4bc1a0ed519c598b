// SPDX-License-Identifier: MIT
// End-to-end test contract: indexed events, a custom error, a string revert and a panic.
pragma solidity 0.8.30;

contract Events {
    event Stored(address indexed who, uint256 indexed key, uint256 value);

    error TooLarge(uint256 value, uint256 limit);

    mapping(uint256 => uint256) public values;

    function store(uint256 key, uint256 value) external {
        if (value > 1000) revert TooLarge(value, 1000);
        values[key] = value;
        emit Stored(msg.sender, key, value);
    }

    function fail(string calldata reason) external pure {
        revert(reason);
    }

    function divide(uint256 a, uint256 b) external pure returns (uint256) {
        return a / b;
    }
}
