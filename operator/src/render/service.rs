//! The Services: the stream's endpoint (ingest) and its metrics port; and, for pods on claims,
//! the headless Service that gives each StatefulSet pod its name.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{RenderError, child_meta, labels, stream_name};
use crate::config::METRICS_PORT;
use crds::DeliveryStream;

pub fn render(stream: &DeliveryStream) -> Result<Service, RenderError> {
    let name = stream_name(stream)?;
    Ok(Service {
        metadata: child_meta(stream, name.to_owned())?,
        spec: Some(ServiceSpec {
            selector: Some(labels::selector(name)),
            ports: Some(vec![
                ServicePort {
                    name: Some("ingest".to_owned()),
                    port: stream.spec.ingest.port,
                    target_port: Some(IntOrString::String("ingest".to_owned())),
                    protocol: Some("TCP".to_owned()),
                    app_protocol: Some(scheme(stream).to_owned()),
                    ..ServicePort::default()
                },
                metrics_port(),
            ]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    })
}

/// The pods' `/metrics` and `/status` port.
fn metrics_port() -> ServicePort {
    ServicePort {
        name: Some("metrics".to_owned()),
        port: METRICS_PORT,
        target_port: Some(IntOrString::String("metrics".to_owned())),
        protocol: Some("TCP".to_owned()),
        ..ServicePort::default()
    }
}

/// `https` when the ingest port serves TLS, else `http`.
fn scheme(stream: &DeliveryStream) -> &'static str {
    match stream.spec.ingest.tls {
        Some(_) => "https",
        None => "http",
    }
}

/// The URL producers use as the SDK endpoint override.
pub fn endpoint(stream: &DeliveryStream, cluster_domain: &str) -> Result<String, RenderError> {
    Ok(format!(
        "{}://{}.{}.{cluster_domain}:{}",
        scheme(stream),
        stream_name(stream)?,
        super::namespace(stream)?,
        stream.spec.ingest.port
    ))
}

/// The headless Service of a StatefulSet's pods.
pub fn headless_name(stream: &str) -> String {
    format!("{stream}-pods")
}

/// The headless Service of a StatefulSet's pod identities (`<pod>.<stream>-pods`). Producers
/// keep using the stream's own Service.
pub fn headless(stream: &DeliveryStream) -> Result<Service, RenderError> {
    let name = stream_name(stream)?;
    Ok(Service {
        metadata: child_meta(stream, headless_name(name))?,
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            selector: Some(labels::selector(name)),
            // Draining pods keep their names resolvable.
            publish_not_ready_addresses: Some(true),
            ports: Some(vec![metrics_port()]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    })
}
