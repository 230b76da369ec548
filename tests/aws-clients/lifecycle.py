"""A Firehose integration test as a team would write it with boto3, pointed at `hydrant serve`.

usage: lifecycle.py ENDPOINT BUCKET_DIR
Creates a stream, waits for it, puts records, updates it, tags it, checks every error the
control plane answers at its boundary, deletes it, and prints a JSON summary on success.
"""
import glob
import json
import os
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, bucket_dir = sys.argv[1], sys.argv[2]
# Standard retries, as a real integration test would have them.
fh = boto3.client("firehose", endpoint_url=endpoint, config=Config(retries={"mode": "standard"}))


def error_code(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    raise AssertionError(f"{call.__name__} succeeded but should have failed")


def wait_for(name, status, timeout=30):
    deadline = time.time() + timeout
    while True:
        d = fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        if d["DeliveryStreamStatus"] == status:
            return d
        assert time.time() < deadline, f"{name} stayed {d['DeliveryStreamStatus']}"
        time.sleep(0.2)


def wait_gone(name, timeout=60):
    deadline = time.time() + timeout
    while True:
        try:
            fh.describe_delivery_stream(DeliveryStreamName=name)
        except fh.exceptions.ResourceNotFoundException:
            return
        assert time.time() < deadline, f"{name} was not deleted"
        time.sleep(0.2)


name = "Orders.Test_1"
config = {
    "RoleARN": "arn:aws:iam::000000000000:role/firehose",
    "BucketARN": "arn:aws:s3:::orders",
    "Prefix": "raw/",
    "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
    "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
    "CloudWatchLoggingOptions": {"Enabled": True, "LogGroupName": "/aws/kinesisfirehose/orders", "LogStreamName": "S3Delivery"},
}
arn = fh.create_delivery_stream(
    DeliveryStreamName=name,
    DeliveryStreamType="DirectPut",
    ExtendedS3DestinationConfiguration=config,
    Tags=[{"Key": "team", "Value": "data"}],
)["DeliveryStreamARN"]
assert arn == f"arn:aws:firehose:us-east-1:000000000000:deliverystream/{name}", arn

code, msg = error_code(fh.create_delivery_stream, DeliveryStreamName=name, ExtendedS3DestinationConfiguration=config)
assert code == "ResourceInUseException", (code, msg)

d = wait_for(name, "ACTIVE")
assert d["VersionId"] == "1", d["VersionId"]
assert d["DeliveryStreamType"] == "DirectPut"
dest = d["Destinations"][0]
assert dest["DestinationId"] == "destinationId-000000000001"
ext = dest["ExtendedS3DestinationDescription"]
assert ext["BucketARN"] == "arn:aws:s3:::orders", ext
assert ext["RoleARN"] == "arn:aws:iam::000000000000:role/firehose", ext
assert ext["BufferingHints"] == {"SizeInMBs": 1, "IntervalInSeconds": 60}, ext
assert ext["CompressionFormat"] == "UNCOMPRESSED", ext
assert ext["CloudWatchLoggingOptions"]["LogGroupName"] == "/aws/kinesisfirehose/orders", ext
assert d["DeliveryStreamEncryptionConfiguration"]["Status"] == "DISABLED", d

# Puts: one record, then batches.
fh.put_record(DeliveryStreamName=name, Record={"Data": b'{"order": 0}\n'})
sent = 1
for batch in range(4):
    records = [{"Data": json.dumps({"order": sent + i}).encode() + b"\n"} for i in range(250)]
    r = fh.put_record_batch(DeliveryStreamName=name, Records=records)
    assert r["FailedPutCount"] == 0, r
    sent += len(records)

# UpdateDestination: a stale version is refused, the current one applies and increments it.
code, msg = error_code(
    fh.update_destination, DeliveryStreamName=name, CurrentDeliveryStreamVersionId="7",
    DestinationId="destinationId-000000000001", ExtendedS3DestinationUpdate={"Prefix": "v2/"})
assert code == "ConcurrentModificationException", (code, msg)
fh.update_destination(
    DeliveryStreamName=name, CurrentDeliveryStreamVersionId="1",
    DestinationId="destinationId-000000000001",
    ExtendedS3DestinationUpdate={"Prefix": "v2/", "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1}})
d = wait_for(name, "ACTIVE")
assert d["VersionId"] == "2", d["VersionId"]
ext = d["Destinations"][0]["ExtendedS3DestinationDescription"]
assert ext["Prefix"] == "v2/", ext
assert ext["ErrorOutputPrefix"] == "errors/!{firehose:error-output-type}/", ext  # merged, kept
assert "LastUpdateTimestamp" in d, d
for i in range(100):
    fh.put_record(DeliveryStreamName=name, Record={"Data": json.dumps({"order": sent}).encode() + b"\n"})
    sent += 1

# Tags.
fh.tag_delivery_stream(DeliveryStreamName=name, Tags=[{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "platform"}])
tags = fh.list_tags_for_delivery_stream(DeliveryStreamName=name)
assert tags["Tags"] == [{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "platform"}], tags
assert tags["HasMoreTags"] is False
page = fh.list_tags_for_delivery_stream(DeliveryStreamName=name, Limit=1)
assert page["HasMoreTags"] is True and page["Tags"][0]["Key"] == "env", page
fh.untag_delivery_stream(DeliveryStreamName=name, TagKeys=["env", "absent"])
assert fh.list_tags_for_delivery_stream(DeliveryStreamName=name)["Tags"] == [{"Key": "team", "Value": "platform"}]
code, _ = error_code(fh.tag_delivery_stream, DeliveryStreamName=name, Tags=[{"Key": "aws:x", "Value": "y"}])
assert code == "ValidationException", code
code, _ = error_code(fh.tag_delivery_stream, DeliveryStreamName=name, Tags=[{"Key": f"k{i}", "Value": ""} for i in range(50)])
assert code == "LimitExceededException", code

# Listing: pages, the type filter.
for extra in ["a-stream", "z-stream"]:
    fh.create_delivery_stream(DeliveryStreamName=extra, ExtendedS3DestinationConfiguration={
        "RoleARN": "arn:aws:iam::000000000000:role/firehose", "BucketARN": "arn:aws:s3:::other"})
first = fh.list_delivery_streams(Limit=2)
assert first["DeliveryStreamNames"] == ["Orders.Test_1", "a-stream"], first
assert first["HasMoreDeliveryStreams"] is True
rest = fh.list_delivery_streams(Limit=2, ExclusiveStartDeliveryStreamName="a-stream")
assert rest["DeliveryStreamNames"] == ["z-stream"] and rest["HasMoreDeliveryStreams"] is False, rest
assert fh.list_delivery_streams(DeliveryStreamType="KinesisStreamAsSource")["DeliveryStreamNames"] == []

# Errors at their boundaries.
code, msg = error_code(fh.describe_delivery_stream, DeliveryStreamName="missing")
assert code == "ResourceNotFoundException" and msg == "Firehose missing under account 000000000000 not found.", (code, msg)
code, _ = error_code(fh.create_delivery_stream, DeliveryStreamName="x" * 65, ExtendedS3DestinationConfiguration=config)
assert code == "ValidationException", code
code, msg = error_code(fh.create_delivery_stream, DeliveryStreamName="two-destinations",
                       ExtendedS3DestinationConfiguration=config,
                       HttpEndpointDestinationConfiguration={"EndpointConfiguration": {"Url": "https://example.com"},
                                                             "S3Configuration": {"RoleARN": config["RoleARN"], "BucketARN": config["BucketARN"]}})
assert code == "InvalidArgumentException" and "Exactly one destination" in msg, (code, msg)
code, _ = error_code(fh.put_record, DeliveryStreamName="missing", Record={"Data": b"x"})
assert code == "ResourceNotFoundException", code
code, _ = error_code(fh.delete_delivery_stream, DeliveryStreamName="missing")
assert code == "ResourceNotFoundException", code
code, _ = error_code(fh.list_delivery_streams, Limit=10001)  # botocore checks only the minimum
assert code == "ValidationException", code
assert len(fh.list_delivery_streams(Limit=10000)["DeliveryStreamNames"]) == 3
code, _ = error_code(fh.list_tags_for_delivery_stream, DeliveryStreamName=name, Limit=51)
assert code == "ValidationException", code
code, _ = error_code(fh.untag_delivery_stream, DeliveryStreamName=name, TagKeys=[f"k{i}" for i in range(51)])
assert code == "ValidationException", code
page = fh.describe_delivery_stream(DeliveryStreamName=name, ExclusiveStartDestinationId="destinationId-000000000001")
assert page["DeliveryStreamDescription"]["Destinations"] == [], page
code, msg = error_code(
    fh.update_destination, DeliveryStreamName=name, CurrentDeliveryStreamVersionId="2",
    DestinationId="destinationId-000000000001",
    ExtendedS3DestinationUpdate={"DynamicPartitioningConfiguration": {"Enabled": True}})
assert code == "InvalidArgumentException", (code, msg)
code, msg = error_code(
    fh.update_destination, DeliveryStreamName=name, CurrentDeliveryStreamVersionId="x2",
    DestinationId="destinationId-000000000001", ExtendedS3DestinationUpdate={"Prefix": "p/"})
assert code == "ValidationException", (code, msg)

# Delete drains first: everything put is delivered before the stream disappears.
for extra in ["a-stream", "z-stream"]:
    fh.delete_delivery_stream(DeliveryStreamName=extra, AllowForceDelete=True)
fh.delete_delivery_stream(DeliveryStreamName=name)
wait_gone(name)
for extra in ["a-stream", "z-stream"]:
    wait_gone(extra)
assert fh.list_delivery_streams()["DeliveryStreamNames"] == []

delivered = []
for path in glob.glob(os.path.join(bucket_dir, "orders", "**", "*"), recursive=True):
    if os.path.isfile(path):
        with open(path, "rb") as f:
            delivered += [json.loads(line)["order"] for line in f.read().splitlines() if line]
missing = set(range(sent)) - set(delivered)
assert not missing, f"{len(missing)} acknowledged records not delivered, e.g. {sorted(missing)[:5]}"
print(json.dumps({"sent": sent, "delivered": len(delivered), "duplicates": len(delivered) - len(set(delivered))}))
