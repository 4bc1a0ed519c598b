// SPDX-License-Identifier: MIT
// A storage-heavy workload: each call writes `count` fresh or existing slots.
pragma solidity 0.8.30;

contract StorageHeavy {
    mapping(uint256 => uint256) public slots;

    function fill(uint256 start, uint256 count) external {
        for (uint256 i = 0; i < count; ++i) {
            slots[start + i] = block.number + i + 1;
        }
    }
}
