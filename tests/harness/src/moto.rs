//! A real S3-compatible server: moto in server mode (`moto_server`, from PyPI; `tests/run.sh`
//! installs it). Override the command with HYDRANT_TEST_MOTO_SERVER.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{Attribute, ObjectStore, ObjectStoreExt};

use crate::free_port;

pub struct Moto {
    child: Child,
    pub port: u16,
    /// The address this process reaches it at.
    host: String,
}

impl Moto {
    pub async fn start() -> Self {
        Self::spawn(None, "127.0.0.1", "127.0.0.1", free_port()).await
    }

    /// moto inside a network namespace (a test cluster's), listening on every address there;
    /// `reach` is the namespace's address this process reaches it at.
    pub async fn start_in_netns(netns: &str, reach: &str) -> Self {
        Self::spawn(Some(netns), "0.0.0.0", reach, free_port()).await
    }

    /// [`Moto::start_in_netns`] on a given port: a destination that comes up only later, where
    /// streams were already told to deliver.
    pub async fn start_in_netns_on(netns: &str, reach: &str, port: u16) -> Self {
        Self::spawn(Some(netns), "0.0.0.0", reach, port).await
    }

    async fn spawn(netns: Option<&str>, bind: &str, reach: &str, port: u16) -> Self {
        let program =
            std::env::var("HYDRANT_TEST_MOTO_SERVER").unwrap_or_else(|_| "moto_server".to_owned());
        let mut command = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, &program]);
                c
            }
            None => Command::new(&program),
        };
        let child = command
            .args(["-H", bind, "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {program} (pip install 'moto[server]', as `bash tests/run.sh` does): {e}")
            });
        let moto = Self {
            child,
            port,
            host: reach.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = reqwest::Client::new();
        loop {
            if client.get(moto.endpoint()).send().await.is_ok() {
                return moto;
            }
            assert!(Instant::now() < deadline, "moto_server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }

    pub async fn create_bucket(&self, bucket: &str) {
        let r = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint()))
            .send()
            .await
            .expect("create bucket");
        assert!(r.status().is_success(), "create bucket: {}", r.status());
    }

    fn store(&self, bucket: &str) -> impl ObjectStore {
        AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region("us-east-1")
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .expect("s3 client")
    }

    /// Every object: key, bytes and Content-Encoding.
    pub async fn objects(&self, bucket: &str) -> Vec<(String, Vec<u8>, Option<String>)> {
        let store = self.store(bucket);
        let metas: Vec<_> = store.list(None).try_collect().await.expect("list");
        let mut out = Vec::new();
        for meta in metas {
            let got = store.get(&meta.location).await.expect("get");
            let encoding = got
                .attributes
                .get(&Attribute::ContentEncoding)
                .map(|v| v.to_string());
            let bytes = got.bytes().await.expect("body").to_vec();
            out.push((meta.location.to_string(), bytes, encoding));
        }
        out.sort();
        out
    }

    pub async fn delete_all(&self, bucket: &str) {
        let store = self.store(bucket);
        let metas: Vec<_> = store.list(None).try_collect().await.expect("list");
        for meta in metas {
            store
                .delete(&ObjectPath::from(meta.location.as_ref()))
                .await
                .expect("delete");
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
