#![allow(dead_code)]
mod core;
