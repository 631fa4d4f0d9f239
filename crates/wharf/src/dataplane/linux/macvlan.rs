//! macvlan links and what choosing a parent needs: the parent's MTU, the default route's
//! interface.

use wharf_netlink::{Family, LinkKind, Netlink, NewLink};

use super::kernel_error;
use crate::dataplane::{DataplaneError, MacvlanSpec, ParentLink};
use crate::engine::state::MacvlanMode;

pub(super) fn parent(
    netlink: &mut Netlink,
    name: &str,
) -> Result<Option<ParentLink>, DataplaneError> {
    let link = netlink
        .link_by_name(name)
        .map_err(kernel_error(format!("look up interface {name}")))?;
    Ok(link.map(|l| ParentLink {
        name: l.name,
        mtu: l.mtu,
    }))
}

pub(super) fn default_route_device(
    netlink: &mut Netlink,
) -> Result<Option<String>, DataplaneError> {
    let routes = netlink
        .routes(Family::V4)
        .map_err(kernel_error("list IPv4 routes"))?;
    let Some(index) = routes
        .iter()
        .filter(|r| r.prefix_len == 0)
        .find_map(|r| r.oif)
    else {
        return Ok(None);
    };
    let links = netlink.links().map_err(kernel_error("list links"))?;
    Ok(links.into_iter().find(|l| l.index == index).map(|l| l.name))
}

fn kind(mode: MacvlanMode) -> LinkKind {
    use wharf_netlink::MacvlanMode as Kernel;
    LinkKind::Macvlan(match mode {
        MacvlanMode::Bridge => Kernel::Bridge,
        MacvlanMode::Private => Kernel::Private,
        MacvlanMode::Vepa => Kernel::Vepa,
        MacvlanMode::Passthru => Kernel::Passthru,
    })
}

pub(super) fn create(netlink: &mut Netlink, spec: &MacvlanSpec) -> Result<(), DataplaneError> {
    let what = format!("create macvlan {} on {}", spec.name, spec.parent);
    let parent = netlink
        .link_by_name(&spec.parent)
        .map_err(kernel_error(what.clone()))?
        .ok_or_else(|| DataplaneError::Kernel {
            what: what.clone(),
            message: format!("parent {} does not exist", spec.parent),
        })?;
    let index = netlink
        .create_link(&NewLink {
            name: spec.name.clone(),
            kind: kind(spec.mode),
            parent: Some(parent.index),
            mtu: Some(spec.mtu),
            mac: Some(spec.mac),
            up: false,
        })
        .map_err(kernel_error(what))?;
    // The kernel ignores an alias in a create request: set it now, or undo.
    if let Err(e) = netlink.set_link_alias(index, &spec.alias) {
        let _ = netlink.delete_link(&spec.name);
        return Err(kernel_error(format!("set alias of {}", spec.name))(e));
    }
    Ok(())
}
