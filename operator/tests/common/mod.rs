#![allow(dead_code)]
pub mod controlplane;
