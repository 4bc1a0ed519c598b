//! `keel-rpc`: Ethereum JSON-RPC over HTTP and WebSocket on one port (jsonrpsee), for a [`keel_node::Node`].
//!
//! Where to start reading: [`serve`] builds the server (request size bound, CORS) and registers the namespaces:
//! `eth.rs` (eth_, net_, web3_), `convert.rs` (keel's blocks, transactions, receipts and logs as alloy's RPC
//! types). Errors follow EIP-1474 with geth's messages (`error.rs`); a reverted call returns code 3 with the revert
//! data.

mod convert;
mod debug;
mod dev;
mod error;
mod eth;
mod filters;
mod txpool;

use jsonrpsee::{
    server::{Server, ServerConfig, ServerHandle},
    RpcModule,
};
use keel_node::Node;
use std::{net::SocketAddr, sync::Arc};
use tower_http::cors::CorsLayer;

/// Server settings.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    pub addr: SocketAddr,
    /// Largest request body accepted (bytes).
    pub max_request_size: u32,
    /// Largest response body sent (bytes).
    pub max_response_size: u32,
    pub max_connections: u32,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8545)),
            max_request_size: 2 * 1024 * 1024,
            max_response_size: 64 * 1024 * 1024,
            max_connections: 1024,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("registering methods: {0}")]
    Register(#[from] jsonrpsee::core::RegisterMethodError),
}

/// All of keel's RPC methods over `node`.
pub fn module(node: Arc<Node>) -> Result<RpcModule<Node>, RpcError> {
    let mut module = RpcModule::from_arc(node);
    eth::register(&mut module)?;
    dev::register(&mut module)?;
    debug::register(&mut module)?;
    txpool::register(&mut module)?;
    filters::register(&mut module, Arc::new(filters::Filters::default()))?;
    Ok(module)
}

/// Starts serving HTTP and WebSocket JSON-RPC; returns the bound address (useful with port 0) and the handle that
/// stops the server.
pub async fn serve(node: Arc<Node>, config: &RpcConfig) -> Result<(SocketAddr, ServerHandle), RpcError> {
    let server_config = ServerConfig::builder()
        .max_request_body_size(config.max_request_size)
        .max_response_body_size(config.max_response_size)
        .max_connections(config.max_connections)
        .set_id_provider(filters::HexIdProvider::new())
        .build();
    let server = Server::builder()
        .set_config(server_config)
        .set_http_middleware(tower::ServiceBuilder::new().layer(CorsLayer::permissive()))
        .build(config.addr)
        .await
        .map_err(|source| RpcError::Bind { addr: config.addr, source })?;
    let addr = server.local_addr().map_err(|source| RpcError::Bind { addr: config.addr, source })?;
    let handle = server.start(module(node)?);
    Ok((addr, handle))
}
