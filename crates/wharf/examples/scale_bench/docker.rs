//! One routed network on wharf, driven over its socket with the calls and bodies dockerd 20.10
//! sends (`/work/shared/NOTES.md` section 1): the network once, then per endpoint
//! RequestAddress, CreateEndpoint, Join; and for tear-down Leave, DeleteEndpoint,
//! ReleaseAddress.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::plugin::{bare, field, PluginClient};

pub struct WharfNetwork {
    client: PluginClient,
    pool_id: String,
    network_id: String,
    /// The gateway wharf's IPAM handed out, bare.
    pub gateway: String,
}

/// An endpoint set up on wharf.
pub struct WharfEndpoint {
    pub id: String,
    /// Bare address, as ReleaseAddress wants it.
    pub address: String,
}

/// How long each of the three set-up calls took.
#[derive(Debug, Clone, Copy)]
pub struct SetUpTimes {
    pub request_address: Duration,
    pub create_endpoint: Duration,
    pub join: Duration,
}

impl SetUpTimes {
    pub fn total(&self) -> Duration {
        self.request_address + self.create_endpoint + self.join
    }
}

/// The options dockerd 20.10 puts in CreateEndpoint and Join for `docker run` without ports.
fn endpoint_options() -> Value {
    json!({"com.docker.network.endpoint.exposedports": [], "com.docker.network.portmap": []})
}

/// A Docker-style 64-hex ID. wharf names an endpoint's links after the first ten digits, so
/// the counter comes first; the rest is a fixed pattern per kind.
pub fn docker_id(kind: u8, n: usize) -> String {
    format!("{n:010x}{kind:02x}{:052x}", 0x5ca1e_u64)
}

impl WharfNetwork {
    /// What dockerd does for `docker network create -d wharf --ipam-driver wharf --subnet POOL`:
    /// activation and capabilities, the pool, its gateway, the network.
    pub fn create(mut client: PluginClient, pool: &str) -> Result<Self, String> {
        let activated = client.call("Plugin.Activate", None)?;
        let implements = activated["Implements"].to_string();
        if !implements.contains("NetworkDriver") || !implements.contains("IpamDriver") {
            return Err(format!(
                "Plugin.Activate: wharf implements no NetworkDriver and IpamDriver: {activated}"
            ));
        }
        client.call("NetworkDriver.GetCapabilities", None)?;
        // dockerd tolerates a 404 here; wharf answers it, and an error is only noted.
        if let Err(e) = client.call("IpamDriver.GetCapabilities", None) {
            eprintln!("note: {e}");
        }
        let spaces = client.call("IpamDriver.GetDefaultAddressSpaces", None)?;
        let space = field(&spaces, "LocalDefaultAddressSpace")?;
        let answer = client.call(
            "IpamDriver.RequestPool",
            Some(&json!({"AddressSpace": space, "Pool": pool, "SubPool": "",
                         "Options": {}, "V6": false})),
        )?;
        let pool_id = field(&answer, "PoolID")?;
        let answer = client.call(
            "IpamDriver.RequestAddress",
            Some(&json!({"PoolID": pool_id, "Address": "",
                         "Options": {"RequestAddressType": "com.docker.network.gateway"}})),
        )?;
        let gateway = field(&answer, "Address")?;
        let network_id = docker_id(0xbe, 0);
        client.call(
            "NetworkDriver.CreateNetwork",
            Some(&json!({"NetworkID": network_id,
                         "Options": {"com.docker.network.enable_ipv6": false,
                                     "com.docker.network.generic": {}},
                         "IPv4Data": [{"AddressSpace": space, "Gateway": gateway, "Pool": pool}],
                         "IPv6Data": []})),
        )?;
        Ok(WharfNetwork {
            client,
            pool_id,
            network_id,
            gateway: bare(&gateway).to_owned(),
        })
    }

    /// RequestAddress (dynamic), CreateEndpoint, Join for endpoint `n`, each call timed.
    pub fn set_up(&mut self, n: usize) -> Result<(WharfEndpoint, SetUpTimes), String> {
        let id = docker_id(0xe0, n);
        let t0 = Instant::now();
        let answer = self.client.call(
            "IpamDriver.RequestAddress",
            Some(&json!({"PoolID": self.pool_id, "Address": "", "Options": null})),
        )?;
        let t1 = Instant::now();
        let address = field(&answer, "Address")?;
        self.client.call(
            "NetworkDriver.CreateEndpoint",
            Some(&json!({"NetworkID": self.network_id, "EndpointID": id,
                         "Interface": {"Address": address, "AddressIPv6": "", "MacAddress": ""},
                         "Options": endpoint_options()})),
        )?;
        let t2 = Instant::now();
        let answer = self.client.call(
            "NetworkDriver.Join",
            Some(&json!({"NetworkID": self.network_id, "EndpointID": id,
                         "SandboxKey": format!("/var/run/docker/netns/{}", &id[..12]),
                         "Options": endpoint_options()})),
        )?;
        let t3 = Instant::now();
        if answer["InterfaceName"]["SrcName"].as_str().is_none() {
            return Err(format!(
                "Join of endpoint {n}: no InterfaceName.SrcName in {answer}"
            ));
        }
        let endpoint = WharfEndpoint {
            id,
            address: bare(&address).to_owned(),
        };
        let times = SetUpTimes {
            request_address: t1 - t0,
            create_endpoint: t2 - t1,
            join: t3 - t2,
        };
        Ok((endpoint, times))
    }

    /// Leave, DeleteEndpoint, ReleaseAddress: what dockerd sends when a container goes.
    pub fn tear_down(&mut self, endpoint: &WharfEndpoint) -> Result<(), String> {
        let ids = json!({"NetworkID": self.network_id, "EndpointID": endpoint.id});
        self.client.call("NetworkDriver.Leave", Some(&ids))?;
        self.client
            .call("NetworkDriver.DeleteEndpoint", Some(&ids))?;
        self.client.call(
            "IpamDriver.ReleaseAddress",
            Some(&json!({"PoolID": self.pool_id, "Address": endpoint.address})),
        )?;
        Ok(())
    }
}
